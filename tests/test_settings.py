"""Funnel settings: funnel.yml parsing, validation, defaults, describe() and to_dict()."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import salesnb as sn
from salesnb.data.settings import FunnelSettings, coerce_settings, load_settings
from salesnb.exceptions import SalesnbError, SettingsError


def write_funnel(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "funnel.yml"
    path.write_text(text, encoding="utf-8")
    return path


def settings_error(path: Path) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    err = info.value
    assert isinstance(err, SalesnbError)
    assert isinstance(err, ValueError)
    assert str(path) in str(err)
    assert "Fix:" in str(err)
    return err


# ---------------------------------------------------------------- malformed funnel.yml
def test_bad_yaml_syntax_points_at_line_and_column(tmp_path: Path) -> None:
    # The second ':' on line 2 sits at 0-based offset 21, i.e. column 22.
    path = write_funnel(tmp_path, "calendar: jalali\ntimezone: Asia/Tehran: x\n")
    msg = str(settings_error(path))
    assert "malformed YAML at line 2, column 22" in msg
    assert "YAML syntax" in msg


def test_unclosed_list_is_malformed_yaml(tmp_path: Path) -> None:
    path = write_funnel(tmp_path, "stages: [lead, qualified\ncalendar: jalali\n")
    assert "malformed YAML" in str(settings_error(path))


def test_list_instead_of_mapping(tmp_path: Path) -> None:
    path = write_funnel(tmp_path, "- lead\n- qualified\n")
    msg = str(settings_error(path))
    assert "expected a mapping of settings, got list" in msg
    assert "key: value" in msg


def test_unknown_key_is_named_and_valid_keys_listed(tmp_path: Path) -> None:
    path = write_funnel(tmp_path, "stage: [lead, won]\ncalender: jalali\n")
    err = settings_error(path)
    msg = str(err)
    assert "unknown setting(s) 'calender', 'stage'" in msg
    assert "stages" in err.fix and "calendar" in err.fix and "fiscal_year_start" in err.fix


@pytest.mark.parametrize(("text", "expected"), [
    ("calendar: persian\n", "'calendar' is 'persian', which is not one of gregorian, jalali"),
    ("week_start: sat\n", "'week_start' is 'sat'"),
    ("weekend: [friday, juma]\n", "'weekend' is 'juma'"),
    ("weekend: {friday: 1}\n", "'weekend' must be a list of weekday names"),
    ("amount_unit: rial\n", "'amount_unit' is 'rial'"),
    ("fiscal_year_start: 13\n", "'fiscal_year_start' must be a month number 1-12, got 13"),
    ("fiscal_year_start: 0\n", "'fiscal_year_start' must be a month number 1-12, got 0"),
    ("fiscal_year_start: april\n", "'fiscal_year_start' must be a month number 1-12, got 'april'"),
    ("fiscal_year_start: true\n", "'fiscal_year_start' must be a month number 1-12, got True"),
    ("holidays: [2025-03-21, not-a-date]\n", "holiday 'not-a-date' is not a date"),
    ("holidays: ['2025-02-30']\n", "holiday '2025-02-30' is not a date"),
    ("stages: lead\n", "'stages' must be a list of stage names"),
    ("stages: [lead, qualified, lead]\n", "'stages' has blank or repeated names ['lead']"),
    ("stages: [lead, won]\n", "stages lists the outcome label(s) ['won']"),
    ("won: done\nlost: Done\n", "'won' and 'lost' are the same label 'done'"),
    ("lost: []\n", "'lost' must be a non-empty stage label"),
])
def test_bad_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write_funnel(tmp_path, text)
    assert expected in str(settings_error(path))


@pytest.mark.parametrize("value", ["2025-02-30", "2025-13-01"])
def test_impossible_unquoted_holiday_is_a_settings_error(tmp_path: Path, value: str) -> None:
    path = write_funnel(tmp_path, f"holidays: [{value}]\n")
    assert "holiday" in str(settings_error(path))


def test_unknown_timezone_suggests_close_names(tmp_path: Path) -> None:
    path = write_funnel(tmp_path, "timezone: tehran\n")
    msg = str(settings_error(path))
    assert "unknown timezone 'tehran' (did you mean Asia/Tehran?)" in msg
    assert "IANA" in msg


def test_misspelt_timezone_suggests_the_right_one(tmp_path: Path) -> None:
    path = write_funnel(tmp_path, "timezone: Asia/Teheran\n")
    assert "did you mean Asia/Tehran" in str(settings_error(path))


def test_funnel_yml_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "funnel.yml"
    path.write_bytes("stages: [سرنخ]\n".encode("cp1256"))
    # "stages: [" is 9 bytes, so the first Arabic-script byte is byte 9.
    msg = str(settings_error(path))
    assert "not UTF-8 text" in msg and "at byte 9" in msg


def test_missing_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yml"
    assert "file not found" in str(settings_error(path))


def test_bad_funnel_yml_in_a_dataset_folder(make_dataset) -> None:
    folder = make_dataset(funnel="calendar: shamsi\n")
    with pytest.raises(SettingsError) as info:
        sn.load(folder)
    assert str(folder / "funnel.yml") in str(info.value)
    assert "'calendar' is 'shamsi'" in str(info.value)


def test_bad_settings_argument_names_its_source() -> None:
    with pytest.raises(SettingsError) as info:
        coerce_settings({"timezone": "Mars/Olympus"})
    assert str(info.value).startswith("settings argument: unknown timezone 'Mars/Olympus'")
    with pytest.raises(SettingsError):
        coerce_settings(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- valid settings and defaults
def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    s = load_settings(write_funnel(tmp_path, "# nothing configured yet\n"))
    assert s.stages == () and s.stages_inferred is False
    assert (s.won, s.lost, s.timezone, s.currency) == ("won", "lost", "UTC", None)
    assert (s.calendar, s.week_start, s.weekend) == ("gregorian", "monday", ("saturday", "sunday"))
    assert (s.holidays, s.fiscal_year_start, s.amount_unit) == ((), 1, "auto")
    assert s.source == str(tmp_path / "funnel.yml")


def test_full_file(tmp_path: Path) -> None:
    text = ("stages: [lead, qualified, proposal, negotiation]\n"
            "won: Closed Won\nlost: Closed Lost\n"
            "timezone: Asia/Tehran\ncurrency: irr\ncalendar: Jalali\n"
            "week_start: Saturday\nweekend: friday\n"
            "holidays: [2026-03-21, 2026-03-20, 2026-03-21]\n"
            "fiscal_year_start: 4\namount_unit: toman\n"
            "pipelines: {Main: [lead, qualified, proposal, negotiation], Upsell: [proposal, negotiation]}\n"
            "rotting_days: {proposal: 14, negotiation: 21.5}\n")
    s = load_settings(write_funnel(tmp_path, text))
    assert s.stages == ("lead", "qualified", "proposal", "negotiation")
    assert s.pipelines["Upsell"] == ("proposal", "negotiation")
    assert (s.won, s.lost) == ("Closed Won", "Closed Lost")
    assert (s.timezone, s.currency, s.calendar) == ("Asia/Tehran", "IRR", "jalali")
    assert (s.week_start, s.weekend) == ("saturday", ("friday",))
    assert s.holidays == (dt.date(2026, 3, 20), dt.date(2026, 3, 21))  # sorted, de-duplicated
    assert (s.fiscal_year_start, s.amount_unit) == (4, "toman")
    assert s.rotting_days == {"proposal": 14.0, "negotiation": 21.5}
    assert s.defaulted == ()


def test_jalali_defaults() -> None:
    s = FunnelSettings.from_mapping({"calendar": "jalali"})
    assert s.week_start == "saturday"
    assert s.weekend == ("friday",)
    assert {"week_start", "weekend", "timezone", "stages"} <= set(s.defaulted)
    assert "calendar" not in s.defaulted


def test_gregorian_defaults() -> None:
    s = FunnelSettings.from_mapping({})
    assert s.calendar == "gregorian"
    assert s.week_start == "monday"
    assert s.weekend == ("saturday", "sunday")


def test_explicit_week_overrides_calendar_default() -> None:
    s = FunnelSettings.from_mapping({"calendar": "jalali", "week_start": "monday",
                                     "weekend": ["thursday", "friday"]})
    assert (s.week_start, s.weekend) == ("monday", ("thursday", "friday"))


def test_describe_marks_defaults_and_inferred_stages() -> None:
    s = FunnelSettings.from_mapping({"calendar": "jalali", "timezone": "Asia/Tehran"})
    s = s.with_stages(("lead", "qualified"), inferred=True)
    lines = s.describe()
    assert lines[0] == "stages: lead → qualified (inferred from the stage history); outcomes: won / lost"
    assert "calendar: jalali" in lines
    assert "timezone: Asia/Tehran" in lines
    assert "week_start: saturday (default)" in lines
    assert "weekend: friday (default)" in lines
    assert "holidays: (none) (default)" in lines


def test_describe_configured_stages() -> None:
    s = FunnelSettings.from_mapping({"stages": ["a", "b", "c"]})
    assert s.describe()[0] == "stages: a → b → c (configured); outcomes: won / lost"


def test_to_dict_round_trips() -> None:
    original = FunnelSettings.from_mapping({
        "stages": ["lead", "proposal"], "timezone": "Asia/Tehran", "currency": "IRR",
        "calendar": "jalali", "holidays": ["2026-03-20", "2026-03-21"], "fiscal_year_start": 7,
    }, source="funnel.yml")
    as_dict = original.to_dict()
    assert as_dict["holidays"] == ["2026-03-20", "2026-03-21"]
    assert as_dict["stages"] == ["lead", "proposal"]
    assert set(as_dict) == {"stages", "pipelines", "won", "lost", "timezone", "currency", "calendar",
                            "week_start", "weekend", "holidays", "fiscal_year_start", "amount_unit"}
    assert FunnelSettings.from_mapping(as_dict, source="funnel.yml") == original


def test_settings_argument_merges_over_funnel_yml(make_dataset) -> None:
    folder = make_dataset(funnel="stages: [lead, qualified, proposal]\ntimezone: Asia/Tehran\n"
                                 "currency: IRR\n")
    data = sn.load(folder, settings={"calendar": "jalali"})
    s = data.settings
    assert s.calendar == "jalali"
    # Kept from funnel.yml.
    assert (s.stages, s.timezone, s.currency) == (("lead", "qualified", "proposal"), "Asia/Tehran",
                                                  "IRR")
    # funnel.yml left the week to its default, so the Jalali defaults apply now.
    assert (s.week_start, s.weekend) == ("saturday", ("friday",))
    assert data.opportunities["created_at"].iloc[0].isoformat() == "2025-01-05T00:00:00+03:30"


def test_settings_path_replaces_funnel_yml(make_dataset, tmp_path: Path) -> None:
    folder = make_dataset(funnel="timezone: Asia/Tehran\ncurrency: IRR\n")
    other = tmp_path / "other.yml"
    other.write_text("calendar: jalali\n", encoding="utf-8")
    s = sn.load(folder, settings=other).settings
    assert (s.calendar, s.timezone, s.currency) == ("jalali", "UTC", None)


# ---------------------------------------------------------------- pipelines
def test_pipelines_give_each_pipeline_its_order_and_stages_their_merge(tmp_path: Path) -> None:
    path = write_funnel(tmp_path, "pipelines:\n  New business: [lead, demo, proposal]\n"
                                  "  Renewals: [review, proposal, signature]\n")
    settings = load_settings(path)
    assert settings.pipelines == {"New business": ("lead", "demo", "proposal"),
                                  "Renewals": ("review", "proposal", "signature")}
    # One overall order keeping each pipeline's: review comes before proposal, as in Renewals.
    assert settings.stages == ("lead", "demo", "review", "proposal", "signature")
    assert settings.pipeline_stages("Renewals") == ("review", "proposal", "signature")
    assert settings.pipeline_stages("unknown") == settings.stages
    assert settings.pipeline_stages(None) == settings.stages
    assert "pipeline Renewals: review → proposal → signature" in settings.describe()
    # Round trip through to_dict (what write_sql stores) keeps the pipelines.
    assert FunnelSettings.from_mapping(settings.to_dict()) == settings


def test_stages_keep_working_alone_and_beside_pipelines(tmp_path: Path) -> None:
    alone = load_settings(write_funnel(tmp_path, "stages: [lead, qualified]\n"))
    assert (alone.stages, alone.pipelines) == (("lead", "qualified"), {})
    both = load_settings(write_funnel(tmp_path, "stages: [lead, demo, review]\n"
                                                "pipelines: {A: [lead, demo], B: [review]}\n"))
    assert both.stages == ("lead", "demo", "review")


@pytest.mark.parametrize(("text", "message", "fix"), [
    ("pipelines: [a, b]\n", "'pipelines' must map each pipeline name to its stages", "pipelines: {"),
    ("pipelines: {A: lead}\n", "pipeline 'A' must list its open stages", "pipelines: {"),
    ("pipelines: {A: []}\n", "pipeline 'A' must list its open stages", "pipelines: {"),
    ("pipelines: {A: [lead, lead]}\n", "'stages' has blank or repeated names ['lead']", "list each open stage once"),
    ("pipelines: {A: [lead, won]}\n", "pipeline 'A' lists the outcome label(s) ['won']", "only the open stages"),
    ("stages: [lead]\npipelines: {A: [lead, demo]}\n", "'stages' does not list the pipeline stage(s) ['demo']",
     "must list every pipeline's stages"),
])
def test_bad_pipelines_are_settings_errors_with_the_fix(tmp_path: Path, text: str, message: str, fix: str) -> None:
    err = settings_error(write_funnel(tmp_path, text))
    assert message in str(err)
    assert fix in err.fix


def test_merge_orders_keeps_agreements_and_breaks_conflicts_by_first_appearance() -> None:
    from salesnb.data.settings import merge_orders

    assert merge_orders([["a", "b", "c"], ["a", "x", "c"]]) == ("a", "b", "x", "c")
    assert merge_orders([["a", "b"], ["b", "a"]]) == ("a", "b")  # a cycle
    assert merge_orders([]) == ()


# --- regressions found by the fuzz tests (tests/test_fuzz.py)
def test_deeply_nested_yaml_is_refused_without_recursing(tmp_path: Path) -> None:
    path = tmp_path / "funnel.yml"
    path.write_text("stages: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: YAML nested more than 50 levels deep")


def test_alias_bomb_gives_a_short_message(tmp_path: Path) -> None:
    # Nine lists of nine references, seven levels: 4.8 million items if expanded.
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    lines += [f"{b}: &{b} [{','.join(['*' + a] * 9)}]" for a, b in zip("abcdef", "bcdefg", strict=True)]
    path = tmp_path / "funnel.yml"
    path.write_text("\n".join([*lines, "stages: *g"]) + "\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert len(str(info.value)) < 1000


def test_settings_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: is a folder, not a file")
