"""Tests of salesnb.i18n: catalogue, table headers, Persian digits and shaping, fonts.

Expected shaped forms are written out by hand from the Unicode tables (Arabic
Presentation Forms-B), not taken from the code's output.
"""

from __future__ import annotations

import re
import warnings

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import salesnb as sn
from salesnb.presentation import i18n

PRESENTATION = re.compile("[\ufb50-\ufeff]")

#: Keys the notebook views and widgets look up (salesnb/views.py, salesnb/widgets.py).
VIEW_KEYS = [
    "created", "cycle_by_owner", "cycle_comparison", "cycle_median", "end", "funnel", "headline",
    "km_median", "lost", "lost_reasons", "mean_won_amount", "new_per_period",
    "no_data_window", "open_by_owner", "open_now", "owner", "period", "q1_title", "q2_title",
    "q3_title", "q4a_title", "q4b_title", "q5_title", "risky_open_deals", "size_bands", "slowest",
    "stages_inferred", "start", "stuck", "team", "time_in_stage", "too_few_note",
    "transitions", "volume_by_owner", "win_rate", "win_rate_closed", "win_rate_cohort", "won",
    "won_lost_by_owner", "won_without_amount",
    # notebook 06 (pipeline movement)
    "q6a_title", "q6b_title", "q6c_title", "movement_by_count", "movement_by_value", "movement_forecast",
    "stage_movement_table", "overdue_table", "overdue_rule", "overdue_none", "note_no_field_history",
    "note_no_field_history_amounts", "note_no_close_dates_walk", "note_movement_without_amount",
    "note_team_total", "note_no_stage_history_walk", "note_no_expected_close", "note_pushes_unknown",
    "note_no_close_date_deals", "mv_new", "mv_advanced", "mv_slipped back", "mv_unchanged", "mv_unknown",
    "mv_won", "mv_lost",
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- catalogue
def test_translate_english_and_persian():
    assert i18n.translate("win_rate", "en") == "Win rate"
    assert i18n.translate("win_rate", "fa") == "نرخ موفقیت"
    assert i18n.translate("title_open_pipeline", "en", group="team") == "Open opportunities per team"


def test_translate_unknown_key_names_close_matches():
    with pytest.raises(i18n.LanguageError, match="win_rate"):
        i18n.translate("win_rat", "en")


def test_unknown_language_is_an_error_naming_the_choices():
    with pytest.raises(sn.OptionError, match=r"`language` must be one of \['en', 'fa'\], but 'de'"):
        i18n.translate("win_rate", "de")
    with pytest.raises(ValueError):
        i18n.shape("x", "ar")
    assert i18n.translate("win_rate", "FA") == i18n.translate("win_rate", "fa")  # any case


@pytest.mark.parametrize("key", VIEW_KEYS)
def test_every_key_the_views_use_exists_in_both_languages(key):
    assert i18n.translate(key, "en")
    assert i18n.translate(key, "fa")


def test_catalogue_is_complete_and_placeholders_agree():
    en, fa = i18n.catalogue("en"), i18n.catalogue("fa")
    assert en.keys() == fa.keys()
    for key in en:
        assert en[key].strip() and fa[key].strip(), key
        names_en = set(re.findall(r"{(\w+)}", en[key]))
        names_fa = set(re.findall(r"{(\w+)}", fa[key]))
        assert names_en == names_fa, key


def test_persian_texts_are_persian():
    fa = i18n.catalogue("fa")
    latin_only = [k for k, v in fa.items() if not i18n.has_arabic_script(v)]
    # Only the purely symbolic entry may have no Persian letter.
    assert latin_only == ["n_note"]


def test_translate_value_translates_package_labels_only():
    assert i18n.translate_value("(unspecified)", "fa") == "(نامشخص)"
    assert i18n.translate_value("above", "en") == "Above band"
    assert i18n.translate_value("competitor", "fa") == "رقیب"  # the sample's own vocabulary
    assert i18n.translate_value("competitor", "en") == "competitor"
    assert i18n.translate_value("Acme deal desk", "fa") == "Acme deal desk"  # data: as stored
    assert i18n.translate_value(None, "en") == ""


def test_label_is_shaped_with_persian_digits():
    text = i18n.label("n_note", "fa", n=12)
    assert "۱۲" in text
    shaped = i18n.label("win_rate", "fa")
    assert shaped != "نرخ موفقیت"
    assert PRESENTATION.search(shaped)


# --------------------------------------------------------------------------- table headers
def test_table_headers_renames_known_columns_and_keeps_others():
    table = pd.DataFrame({"owner": ["Sara"], "win_rate": [0.5], "my_column": [1]})
    en = i18n.table_headers(table, "en")
    fa = i18n.table_headers(table, "fa")
    assert list(en.columns) == ["Salesperson", "Win rate", "my_column"]
    assert list(fa.columns) == ["کارشناس فروش", "نرخ موفقیت", "my_column"]
    assert list(table.columns) == ["owner", "win_rate", "my_column"]  # input untouched
    # Plain text for HTML tables: no presentation forms.
    assert not any(PRESENTATION.search(c) for c in fa.columns)


def test_table_headers_cover_the_kpi_tables():
    import salesnb as sn

    data = sn.load(sn.sample_path())
    kw = {"start": "1404-01-01", "end": "1404-04-01"}
    tables = [sn.open_opportunities(data), sn.won_lost(data, **kw), sn.lost_reasons(data, **kw),
              sn.win_rate(data, **kw), sn.funnel(data, **kw), sn.time_in_stage(data, **kw),
              sn.deal_size_bands(data, **kw), sn.deal_size_flags(data, **kw),
              sn.sales_cycle(data, **kw), sn.cycle_survival(data, **kw), sn.sales_volume(data, **kw),
              sn.stuck_opportunities(data), sn.slowest_movers(data), sn.stage_transitions(data, **kw),
              sn.cycle_comparison(data, **kw), sn.open_over_time(data, **kw),
              sn.new_opportunities(data, **kw), sn.cycle_durations(data, **kw)]
    for table in tables:
        renamed = i18n.table_headers(table, "fa")
        untranslated = [c for c in renamed.columns if not i18n.has_arabic_script(c)]
        assert untranslated == [], untranslated


# --------------------------------------------------------------------------- digits, numbers, units
def test_persian_digits_and_separators_inside_numbers():
    assert i18n.persian_digits("1404-08") == "۱۴۰۴-۰۸"
    assert i18n.persian_digits("12,345.5") == "۱۲٬۳۴۵٫۵"
    assert i18n.persian_digits("25%") == "۲۵٪"
    assert i18n.persian_digits("٣") == "۳"  # Arabic-Indic digits become Persian ones
    # Punctuation that is not inside a number is left alone.
    assert i18n.persian_digits("Sara, Ali. 3 deals") == "Sara, Ali. ۳ deals"


def test_number_formats():
    assert i18n.number(1234567.891, "en", 1) == "1,234,567.9"
    assert i18n.number(0.256, "en", 1, percent=True) == "25.6%"
    assert i18n.number(1234.5, "fa", 1) == "۱٬۲۳۴٫۵"
    assert i18n.number(-0.0001, "en", 1) == "0.0"
    assert i18n.number(float("nan"), "en") == "—"


def test_unit_label():
    assert i18n.unit_label("billion IRR", "fa") == "میلیارد ریال"
    assert i18n.unit_label("million Toman", "fa") == "میلیون تومان"
    assert i18n.unit_label("billion IRR", "en") == "billion IRR"


# --------------------------------------------------------------------------- shaping
def test_latin_text_is_unchanged():
    assert i18n.shape("Sara Ahmadi", "en") == "Sara Ahmadi"
    assert i18n.shape("Sara Ahmadi", "fa") == "Sara Ahmadi"
    assert i18n.shape("", "fa") == ""


def test_persian_is_joined_into_presentation_forms():
    # سارا: seen initial, alef final, reh isolated, alef isolated (Unicode FE70–FEFF).
    expected = "\ufeb3\ufe8e\ufead\ufe8d"
    shaped = i18n.shape("سارا", "en")
    if i18n.matplotlib_applies_bidi():
        assert shaped == expected  # logical order: matplotlib reorders
    else:
        assert shaped == expected[::-1]  # visual order for a left-to-right renderer


def test_persian_owner_name_is_shaped_in_english_too():
    shaped = i18n.shape("سارا محمدی", "en")
    assert shaped != "سارا محمدی"
    assert PRESENTATION.search(shaped)
    assert not i18n.has_arabic_script(shaped)  # every letter was replaced by its form


def test_shape_is_idempotent_and_keeps_lines():
    once = i18n.shape("lead\n۴ پایان‌یافته", "fa")
    assert i18n.shape(once, "fa") == once
    assert once.split("\n")[0] == "lead"


def test_persian_plot_text_is_a_right_to_left_paragraph(monkeypatch):
    text = "Tehran: ۷۳ معامله"
    if i18n.matplotlib_applies_bidi():
        assert i18n.shape(text, "fa").startswith(i18n.RLM)
        assert not i18n.shape(text, "en").startswith(i18n.RLM)
    # Without libraqm (matplotlib < 3.11) python-bidi orders the glyphs, RTL base for fa.
    from bidi import get_display

    monkeypatch.setattr(i18n, "matplotlib_applies_bidi", lambda: False)
    import arabic_reshaper

    assert i18n.shape(text, "fa") == get_display(arabic_reshaper.reshape(text), base_dir="R")
    assert i18n.shape("سارا", "en") == "\ufe8d\ufead\ufe8e\ufeb3"


def test_bidi_probe_matches_matplotlib_version():
    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    assert i18n.matplotlib_applies_bidi() == ((major, minor) >= (3, 11))


# --------------------------------------------------------------------------- fonts
def test_font_families_end_with_a_persian_capable_font():
    assert i18n.font_families("en")[-1] == "DejaVu Sans"
    assert i18n.font_families("en", base=["Arial"])[0] == "Arial"  # the user's font first
    assert i18n.font_families("fa", base=["Arial"])[-1] == "DejaVu Sans"


def test_installed_persian_font_comes_first_for_persian(monkeypatch):
    monkeypatch.setattr(i18n, "_installed_fonts", lambda: frozenset({"Vazirmatn", "DejaVu Sans"}))
    assert i18n.font_families("fa", base=["sans-serif"])[0] == "Vazirmatn"
    assert i18n.font_families("en", base=["sans-serif"])[0] == "sans-serif"


def test_persian_renders_without_missing_glyphs_even_after_a_latin_only_font():
    """DejaVu Serif has no Arabic letters: the fallback list must supply them."""
    fig, ax = plt.subplots()
    families = i18n.font_families("fa", base=["DejaVu Serif"])
    ax.set_title(i18n.label("title_funnel", "fa"), fontfamily=families)
    ax.text(0.5, 0.5, i18n.plot_text("سارا محمدی ۱۲٬۵ میلیارد ریال", "fa"), fontfamily=families)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font.*")
        fig.canvas.draw()
