"""English and Persian text for plots, tables and notebooks; Persian shaping for matplotlib.

Two languages: ``"en"`` and ``"fa"``. A small catalogue holds every string the plots and
notebook views show (titles, axis labels, legend entries, table headers):

* :func:`translate` returns the plain text, for HTML tables and Markdown, where the
  browser lays out right-to-left text itself;
* :func:`label` returns it ready for matplotlib (shaped, Persian digits for ``fa``);
* :func:`table_headers` renames a KPI table's columns for display;
* :func:`shape` makes any string with Arabic-script letters display correctly in
  matplotlib (letters joined, right to left) — owner names written in Persian inside an
  English plot included;
* :func:`persian_digits` writes the digits (and the separators inside numbers) in
  Persian.

Shaping. ``arabic_reshaper`` replaces the letters by their joined presentation forms.
Right-to-left ordering depends on matplotlib: since 3.11 matplotlib lays text out with
libraqm, which applies the Unicode bidirectional algorithm itself, so the reshaped text
is passed in logical order (running ``bidi.get_display`` as well would reverse it a
second time and show every word backwards). Older matplotlib draws glyphs left to right
as given, so the reshaped text is also put in visual order with ``bidi.get_display``.
Which case applies is probed once, by laying out two Arabic letters.

Fonts. matplotlib's bundled DejaVu Sans has every Persian letter, the presentation
forms and the Persian digits, so no font is shipped. :func:`font_families` puts a
Persian font the machine has (Vazirmatn, Vazir, Sahel, Noto Sans Arabic...) first for
``fa`` and always ends with DejaVu Sans, so Persian text never falls back to empty boxes
whatever font the user configured.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

from salesnb._options import LANGUAGES, check_option
from salesnb.exceptions import SalesnbError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LANGUAGES",
    "LanguageError",
    "catalogue",
    "check_language",
    "font_families",
    "has_arabic_script",
    "label",
    "latin_digits",
    "number",
    "persian_digits",
    "plot_text",
    "shape",
    "table_headers",
    "translate",
    "translate_value",
    "unit_label",
]

#: Persian fonts preferred for ``fa`` when the machine has them (first found wins).
PERSIAN_FONTS = ("Vazirmatn", "Vazir", "Sahel", "Shabnam", "Samim", "Noto Sans Arabic",
                 "Noto Naskh Arabic")
#: Always present (bundled with matplotlib) and covers Persian: the last fallback.
FALLBACK_FONT = "DejaVu Sans"


class LanguageError(SalesnbError, ValueError):
    """No text in the catalogue for a key (an unknown language is an :class:`~salesnb.exceptions.OptionError`)."""


# --------------------------------------------------------------------------- catalogue
# key -> (English, Persian). Keys that are KPI column names double as table headers.
# ``{name}`` placeholders are filled by ``translate(key, language, name=...)``.
_CATALOGUE: dict[str, tuple[str, str]] = {
    # --- general
    "no_data_window": ("No data for this window", "داده‌ای در این بازه نیست"),
    "no_data": ("no data", "بدون داده"),
    "all": ("All", "همه"),
    "(all)": ("All", "همه"),
    "(none)": ("(none)", "(هیچ)"),
    "(unspecified)": ("(unspecified)", "(نامشخص)"),
    "(unknown)": ("(unknown)", "(نامعلوم)"),
    "(no amount)": ("(no amount)", "(بدون مبلغ)"),
    "days_unit": ("d", "روز"),
    # --- KPI columns (table headers)
    "owner": ("Salesperson", "کارشناس فروش"),
    "team": ("Team", "تیم"),
    "group": ("Group", "گروه"),
    "currency": ("Currency", "ارز"),
    "(several)": ("(several)", "(چند ارز)"),
    "account": ("Account", "مشتری"),
    "product": ("Product", "محصول"),
    "source": ("Source", "منبع"),
    "start": ("Start", "شروع"),
    "end": ("End", "پایان"),
    "period": ("Period", "دوره"),
    "period_start": ("Period start", "شروع دوره"),
    "period_end": ("Period end", "پایان دوره"),
    "snapshot_at": ("Counted at", "زمان شمارش"),
    "open_count": ("Open opportunities", "فرصت‌های باز"),
    "open_value": ("Open value", "ارزش فرصت‌های باز"),
    "open_without_amount": ("Open without amount", "باز بدون مبلغ"),
    "team_median": ("Team median", "میانه تیم"),
    "too_few": ("Too few", "کمتر از حد"),
    "created": ("Created", "ایجادشده"),
    "created_value": ("Created value", "ارزش ایجادشده"),
    "won": ("Won", "موفق"),
    "lost": ("Lost", "ناموفق"),
    "closed": ("Closed", "بسته‌شده"),
    "won_value": ("Won value", "ارزش معاملات موفق"),
    "lost_reason": ("Lost reason", "دلیل ناموفق‌شدن"),
    "share": ("Share", "سهم"),
    "lost_value": ("Lost value", "ارزش معاملات ناموفق"),
    "stage": ("Stage", "مرحله"),
    "won_with_amount": ("Won with amount", "موفق با مبلغ"),
    "won_without_amount": ("Won without amount", "موفق بدون مبلغ"),
    "mean_amount": ("Mean amount", "میانگین مبلغ"),
    "median_amount": ("Median amount", "میانه مبلغ"),
    "total_amount": ("Total amount", "جمع مبلغ"),
    "opportunity_id": ("Opportunity", "فرصت"),
    "created_at": ("Created at", "زمان ایجاد"),
    "amount": ("Amount", "مبلغ"),
    "reference_mean": ("Reference mean", "میانگین مرجع"),
    "ratio": ("Ratio to mean", "نسبت به میانگین"),
    "flag": ("Flag", "وضعیت"),
    "band": ("Band", "دسته"),
    "label": ("Size band", "دسته اندازه"),
    "amount_min": ("Smallest amount", "کمترین مبلغ"),
    "amount_max": ("Largest amount", "بیشترین مبلغ"),
    "win_rate": ("Win rate", "نرخ موفقیت"),
    "ci_low": ("CI low", "کران پایین اطمینان"),
    "ci_high": ("CI high", "کران بالای اطمینان"),
    "mean_cycle_days": ("Mean cycle (days)", "میانگین چرخه (روز)"),
    "median_cycle_days": ("Median cycle (days)", "میانه چرخه (روز)"),
    "open": ("Still open", "هنوز باز"),
    "n": ("Deals", "تعداد"),
    "open_share": ("Share still open", "سهم باز"),
    "position": ("Position", "ترتیب"),
    "reached": ("Reached", "رسیده"),
    "lost_here": ("Lost here", "ناموفق در این مرحله"),
    "open_here": ("Open here", "باز در این مرحله"),
    "conversion_to_next": ("Conversion to next", "تبدیل به مرحله بعد"),
    "cumulative_conversion": ("Cumulative conversion", "تبدیل تجمعی"),
    "completed_visits": ("Completed visits", "حضورهای پایان‌یافته"),
    "censored_visits": ("Still in stage", "هنوز در مرحله"),
    "median_days_in_stage": ("Median days in stage", "میانه روز در مرحله"),
    "visits": ("Visits", "حضورها"),
    "completed": ("Completed", "پایان‌یافته"),
    "censored": ("Ongoing (censored)", "ناتمام"),
    "mean_days": ("Mean days", "میانگین روز"),
    "median_days": ("Median days", "میانه روز"),
    "p75_days": ("75th percentile (days)", "صدک ۷۵ (روز)"),
    "p90_days": ("90th percentile (days)", "صدک ۹۰ (روز)"),
    "from_stage": ("From stage", "از مرحله"),
    "to_stage": ("To stage", "به مرحله"),
    "kind": ("Kind", "نوع"),
    "count": ("Count", "تعداد"),
    "entered_stage_at": ("Entered stage at", "زمان ورود به مرحله"),
    "days_in_stage": ("Days in stage", "روز در مرحله"),
    "threshold_days": ("Threshold (days)", "آستانه (روز)"),
    "rotting_days": ("Rotting limit (days)", "حد ماندن در مرحله (روز)"),
    "rule": ("Flagged by", "قاعدهٔ هشدار"),
    "overdue_ratio": ("Overdue ratio", "نسبت تأخیر"),
    "pace_ratio": ("Pace ratio", "نسبت کندی"),
    "age_days": ("Age (days)", "عمر (روز)"),
    "started_at": ("Started at", "زمان شروع"),
    "ended_at": ("Ended at", "زمان پایان"),
    "closed_at": ("Closed at", "زمان بسته‌شدن"),
    "entered_at": ("Entered at", "زمان ورود"),
    "left_at": ("Left at", "زمان خروج"),
    "next_stage": ("Next stage", "مرحله بعد"),
    "days": ("Days", "روز"),
    "survival": ("Share not yet won", "سهم هنوز موفق‌نشده"),
    "at_risk": ("At risk", "در معرض"),
    "events": ("Events", "رخدادها"),
    "window": ("Window", "بازه"),
    "won_count": ("Won (measured)", "موفق (اندازه‌گیری‌شده)"),
    "km_median_days": ("Kaplan–Meier median (days)", "میانه کاپلان–مایر (روز)"),
    "change_mean_days": ("Change in mean (days)", "تغییر میانگین (روز)"),
    "median_ci_low": ("Median CI low", "کران پایین میانه"),
    "median_ci_high": ("Median CI high", "کران بالای میانه"),
    "kpi": ("KPI", "شاخص"),
    "value": ("Value", "مقدار"),
    # --- values the package itself writes (flags, kinds, windows)
    "above": ("Above band", "بالاتر از بازه"),
    "below": ("Below band", "پایین‌تر از بازه"),
    "within": ("Within band", "درون بازه"),
    "no amount": ("No amount", "بدون مبلغ"),
    "no reference": ("No reference", "بدون مرجع"),
    "forward": ("Forward", "پیشروی"),
    "skip": ("Skip", "پرش"),
    "regression": ("Back", "بازگشت"),
    "repeat": ("Repeat", "تکرار"),
    "current": ("Current", "فعلی"),
    "previous": ("Previous", "قبلی"),
    "year_ago": ("A year ago", "سال قبل"),
    # --- notebook views
    "headline": ("Headline numbers", "شاخص‌های اصلی"),
    "open_now": ("Open now", "باز در حال حاضر"),
    "mean_won_amount": ("Mean won amount", "میانگین مبلغ معاملات موفق"),
    "cycle_median": ("Median sales cycle", "میانه چرخه فروش"),
    "q1_title": ("1. Opportunities", "۱. فرصت‌ها"),
    "q2_title": ("2. Won and lost", "۲. موفق و ناموفق"),
    "q3_title": ("3. Sales volume", "۳. حجم فروش"),
    "q4a_title": ("4a. Win rate", "۴-الف. نرخ موفقیت"),
    "q4b_title": ("4b. Funnel", "۴-ب. قیف فروش"),
    "q5_title": ("5. Sales cycle", "۵. چرخه فروش"),
    "too_few_note": ("Holding too few open opportunities", "فرصت باز کمتر از حد"),
    "open_by_owner": ("Open opportunities per salesperson", "فرصت‌های باز هر کارشناس"),
    "new_per_period": ("New opportunities per period", "فرصت‌های جدید در هر دوره"),
    "won_lost_by_owner": ("Won and lost per salesperson", "موفق و ناموفق هر کارشناس"),
    "lost_reasons": ("Lost reasons", "دلایل ناموفق‌شدن"),
    "volume_by_owner": ("Won deal value per salesperson", "ارزش معاملات موفق هر کارشناس"),
    "risky_open_deals": ("Open deals far from the mean won amount",
                         "معاملات باز دور از میانگین مبلغ موفق"),
    "size_bands": ("Deal size bands", "دسته‌های اندازه معامله"),
    "win_rate_closed": ("Win rate (deals closed in the window)",
                        "نرخ موفقیت (بسته‌شده در بازه)"),
    "win_rate_cohort": ("Win rate (cohort created in the window)",
                        "نرخ موفقیت (ایجادشده در بازه)"),
    "funnel": ("Funnel", "قیف فروش"),
    "transitions": ("Stage transitions", "جابه‌جایی میان مراحل"),
    "time_in_stage": ("Time in stage", "زمان در هر مرحله"),
    "stuck": ("Stuck opportunities", "فرصت‌های متوقف"),
    "slowest": ("Slowest movers", "کندترین فرصت‌ها"),
    "stages_inferred": ("The stage order was inferred from the stage history (funnel.yml names no stages)",
                        "ترتیب مراحل از تاریخچه مراحل استنباط شده است (funnel.yml مراحل را نام نبرده)"),
    # --- data-quality notes (notebook sections and the report's index page)
    "note_loaded": ("{opportunities} opportunities and {history} stage-history rows loaded; "
                    "{without} opportunities have no stage history",
                    "{opportunities} فرصت و {history} ردیف تاریخچه مراحل بارگذاری شد؛ "
                    "{without} فرصت تاریخچه مراحل ندارند"),
    "note_won_without_amount": ("{n} won deal(s) without an amount are left out of the sales volume",
                                "{n} معامله موفق بدون مبلغ از حجم فروش کنار گذاشته شده است"),
    "note_stuck_not_judged": ("Stuck-deal check: {no_history} open deal(s) without stage history and "
                              "{no_threshold} in a stage with too little history were not judged",
                              "بررسی معاملات متوقف: {no_history} معامله باز بدون تاریخچه مراحل و "
                              "{no_threshold} معامله در مرحله‌ای با تاریخچه ناکافی ارزیابی نشدند"),
    "note_km_lost": ("Kaplan–Meier cycle: {n} deal(s) lost before winning are left out "
                     "(they never become customers)",
                     "چرخه کاپلان–مایر: {n} معامله ناموفق پیش از موفقیت کنار گذاشته شده است "
                     "(هرگز مشتری نمی‌شوند)"),
    "cycle_by_owner": ("Sales cycle per salesperson", "چرخه فروش هر کارشناس"),
    "cycle_comparison": ("Sales cycle compared with the past", "مقایسه چرخه فروش با گذشته"),
    "km_median": ("Kaplan–Meier median", "میانه کاپلان–مایر"),
    # --- plots: titles
    "title_open_pipeline": ("Open opportunities per {group}", "فرصت‌های باز به تفکیک {group}"),
    "title_open_value": ("Open pipeline value per {group}", "ارزش فرصت‌های باز به تفکیک {group}"),
    "title_open_over_time": ("Open opportunities at the end of each period",
                             "فرصت‌های باز در پایان هر دوره"),
    "title_open_value_over_time": ("Open pipeline value at the end of each period",
                                   "ارزش فرصت‌های باز در پایان هر دوره"),
    "title_won_lost": ("Deals won and lost per period", "معاملات موفق و ناموفق در هر دوره"),
    "title_won_lost_group": ("Deals won and lost per {group}", "معاملات موفق و ناموفق به تفکیک {group}"),
    "title_lost_reasons": ("Why deals were lost", "دلایل ناموفق‌شدن معاملات"),
    "title_lost_reason_stage": ("Lost deals by reason and stage where lost",
                                "معاملات ناموفق به تفکیک دلیل و مرحله"),
    "title_deal_sizes": ("Won deal amounts and open deals far from the mean",
                         "مبلغ معاملات موفق و معاملات باز دور از میانگین"),
    "title_win_rate": ("Win rate per {group} (deals closed in the window)",
                       "نرخ موفقیت به تفکیک {group} (بسته‌شده در بازه)"),
    "title_win_rate_cohort": ("Win rate per {group} (cohort created in the window)",
                              "نرخ موفقیت به تفکیک {group} (ایجادشده در بازه)"),
    "title_funnel": ("Funnel of the opportunities created in the window",
                     "قیف فرصت‌های ایجادشده در بازه"),
    "title_time_in_stage": ("Time spent in each stage", "زمان ماندن در هر مرحله"),
    "title_cycle_distribution": ("Sales cycle of won deals", "چرخه فروش معاملات موفق"),
    "title_survival": ("Time to win (Kaplan–Meier, open deals censored)",
                       "زمان تا موفقیت (کاپلان–مایر، معاملات باز سانسورشده)"),
    "title_size_bands": ("Win rate and cycle length by deal size", "نرخ موفقیت و طول چرخه بر حسب اندازه معامله"),
    # --- plots: axes and legends
    "axis_open_count": ("Open opportunities", "فرصت‌های باز"),
    "axis_amount": ("Amount ({unit})", "مبلغ ({unit})"),
    "axis_open_value": ("Open value ({unit})", "ارزش فرصت‌های باز ({unit})"),
    "axis_deals": ("Deals", "تعداد معاملات"),
    "axis_lost_deals": ("Lost deals", "معاملات ناموفق"),
    "axis_lost_value": ("Lost value ({unit})", "ارزش معاملات ناموفق ({unit})"),
    "axis_stage_lost": ("Stage where lost", "مرحله ناموفق‌شدن"),
    "axis_won_amount": ("Won deal amount ({unit}, log scale)", "مبلغ معامله موفق ({unit}، مقیاس لگاریتمی)"),
    "axis_won_deals": ("Won deals", "معاملات موفق"),
    "axis_reached": ("Opportunities reaching each stage (cohort: {n})",
                     "فرصت‌های رسیده به هر مرحله (کل: {n})"),
    "axis_days_in_stage": ("Days in stage (completed visits)", "روز در مرحله (حضورهای پایان‌یافته)"),
    "axis_cycle_days": ("Sales cycle (days)", "چرخه فروش (روز)"),
    "axis_days_since_start": ("Days since the start", "روز از شروع"),
    "axis_size_band": ("Deal size band ({unit})", "دسته اندازه معامله ({unit})"),
    "axis_median_cycle": ("Median cycle of won deals (days)", "میانه چرخه معاملات موفق (روز)"),
    "legend_too_few": ("Too few (below the team threshold)", "کمتر از حد (زیر آستانه تیم)"),
    "legend_enough": ("Open opportunities", "فرصت‌های باز"),
    "legend_team_median": ("Team median", "میانه تیم"),
    "legend_mean": ("Mean {value}", "میانگین {value}"),
    "legend_median": ("Median {value}", "میانه {value}"),
    "legend_band": ("Band: mean ±{pct}", "بازه: میانگین ±{pct}"),
    "legend_open_flag": ("Open, {flag} ({n})", "باز، {flag} ({n})"),
    "legend_ci": ("Confidence interval", "بازه اطمینان"),
    "legend_won_bar": ("Won", "موفق"),
    "open_deals": ("Open deals", "معاملات باز"),
    "open_not_shown": ("{n} open deals without an amount or reference not shown",
                       "{n} معامله باز بدون مبلغ یا مرجع نمایش داده نشده"),
    "not_shown_no_amount": ("{n} won deals without a positive amount not shown",
                            "{n} معامله موفق بدون مبلغ مثبت نمایش داده نشده"),
    "to_next": ("{pct} to next", "{pct} به مرحله بعد"),
    "won_of_last": ("{pct} won", "{pct} موفق"),
    "lost_here_note": ("lost here: {n}", "ناموفق در این مرحله: {n}"),
    "stage_tick": ("{stage}\n{n} done\n{c} ongoing", "{stage}\n{n} پایان‌یافته\n{c} ناتمام"),
    "n_note": ("n={n}", "n={n}"),
    "median_marker": ("median {value}", "میانه {value}"),
    "km_curve": ("{group}: {n} deals, {c} still open", "{group}: {n} معامله، {c} هنوز باز"),
    "no_median": ("median not reached", "میانه به دست نیامده"),
    "reference_rate": ("Reference {value}", "مرجع {value}"),
    "median_cycle_bar": ("Median cycle (days, right axis)", "میانه چرخه (روز، محور راست)"),
    "win_rate_point": ("Win rate with confidence interval", "نرخ موفقیت با بازه اطمینان"),
    "mean_days_marker": ("Mean", "میانگین"),
    "p90_marker": ("90th percentile", "صدک ۹۰"),
    "median_bar": ("Median", "میانه"),
    "risk_title": ("Open-deal risk", "ریسک معاملات باز"),
    "at_risk_table": ("Open deals ranked by risk, with the reasons", "معاملات باز به ترتیب ریسک، با دلایل"),
    "velocity": ("Sales velocity per salesperson (value per day)", "سرعت فروش هر فروشنده (ارزش در روز)"),
    # report index page
    "failed": ("failed", "ناموفق در اجرا"),
    "end_exclusive": ("end exclusive", "بدون روز پایانی"),
    "report_title": ("Sales team report", "گزارش تیم فروش"),
    "as_of": ("as of", "با داده\u200cهای تا"),
    "vs_previous": ("Change vs previous period", "تغییر نسبت به دوره قبل"),
    "sections": ("Sections", "بخش\u200cها"),
    "data_quality": ("Data quality", "کیفیت داده\u200cها"),
    "generated": ("generated", "تهیه\u200cشده در"),
    # --- filter bar (notebooks and the app)
    "filters": ("Filters", "فیلترها"),
    "salesperson": ("Salesperson", "کارشناس فروش"),
    "search_people": ("Search salespeople", "جستجوی کارشناس"),
    "everybody": ("Everybody", "همه کارشناسان"),
    "all_teams": ("All teams", "همه تیم‌ها"),
    "all_pipelines": ("All pipelines", "همه پایپ‌لاین‌ها"),
    "pipeline": ("Pipeline", "پایپ‌لاین"),
    "calendar": ("Calendar", "تقویم"),
    "gregorian": ("Gregorian", "میلادی"),
    "jalali": ("Solar Hijri", "شمسی"),
    "week": ("Week", "هفته"),
    "month": ("Month", "ماه"),
    "quarter": ("Quarter", "فصل"),
    "year": ("Year", "سال"),
    "from": ("From", "از"),
    "to": ("To (exclusive)", "تا (بدون این روز)"),
    "empty_means_all": ("No selection: everybody", "بدون انتخاب: همه"),
    "selected_n": ("{n} selected", "{n} انتخاب‌شده"),
    "updated": ("Updated", "به‌روز شد"),
    "stale": ("Fix the filter to update the page", "برای به‌روزرسانی صفحه، فیلتر را اصلاح کنید"),
    "bad_date": ("{field}: “{value}” is not a date in the {calendar} calendar; write it as YYYY-MM-DD",
                 "{field}: «{value}» تاریخی در تقویم {calendar} نیست؛ آن را به شکل سال-ماه-روز بنویسید"),
    "bad_window": ("“{field_to}” must be after “{field_from}”", "«{field_to}» باید بعد از «{field_from}» باشد"),
    "filter_error": ("This filter cannot be applied: {detail}", "این فیلتر اعمال نشد: {detail}"),
    "applies_to": ("Showing", "نمایش برای"),
    "everybody_short": ("everybody", "همه"),
    # --- honest periods
    "partial_period_legend": ("Partial period (*)", "دوره ناقص (*)"),
    "partial": ("Partial period", "دوره ناقص"),
    "section_error": ("This section cannot be shown for these filters:",
                      "این بخش برای این فیلترها نمایش داده نمی‌شود:"),
    "heading": ("{opportunities} opportunities, {history} stage-history rows, {owners} salespeople",
                "{opportunities} فرصت، {history} ردیف تاریخچه مرحله، {owners} کارشناس فروش"),
    "note_partial": ("* Partial period: the window covers only part of {periods}; "
                     "compare it with full periods with care",
                     "* دوره ناقص: بازه فقط بخشی از {periods} را در بر می‌گیرد؛ "
                     "مقایسه آن با دوره‌های کامل باید با احتیاط باشد"),
    # --- the dashboard app and the report index
    "dashboard_title": ("Sales team dashboard", "داشبورد تیم فروش"),
    "trend_title": ("Won and lost per period", "موفق و ناموفق در هر دوره"),
    "funnel_title": ("Funnel of the opportunities created in the window", "قیف فرصت‌های ایجادشده در بازه"),
    "open_start": ("Open at start", "باز در شروع"),
    "open_end": ("Open at end", "باز در پایان"),
    "reassigned": ("Reassigned (net)", "واگذارشده (خالص)"),
    "movement_title": ("Pipeline movement", "جابه‌جایی پایپ‌لاین"),
    "attainment_title": ("Attainment of targets", "تحقق اهداف"),
    "risk_list_title": ("Open deals that need action", "معاملات بازی که اقدام لازم دارند"),
    "risk_rule": ("The {shown} of {total} open deals with the highest expected value at risk "
                  "(amount × chance of not winning), high and medium risk first",
                  "{shown} معامله از {total} معامله باز با بیشترین ارزش در معرض ریسک "
                  "(مبلغ × احتمال موفق‌نشدن)، اول ریسک زیاد و متوسط"),
    "stuck_rule": ("The {shown} most overdue of {total} stuck deals", "{shown} معامله با بیشترین تأخیر از {total} معامله متوقف"),
    "full_list_csv": ("Full list ({n} rows, CSV)", "فهرست کامل ({n} ردیف، CSV)"),
    "value_at_risk": ("Value at risk", "ارزش در معرض ریسک"),
    "risk_level": ("Risk", "ریسک"),
    "reasons": ("Reasons", "دلایل"),
    "p_win_horizon": ("Win chance in 90 days", "احتمال موفقیت تا ۹۰ روز"),
    "p_win_eventually": ("Win chance eventually", "احتمال موفقیت نهایی"),
    "expected_close_low": ("Expected close from", "زمان بسته‌شدن از"),
    "expected_close_high": ("Expected close to", "زمان بسته‌شدن تا"),
    "change_pt": ("{value} pt", "{value} واحد درصد"),
    "change_days": ("{value} d", "{value} روز"),
    "no_previous": ("no previous period", "بدون دوره قبل"),
    "vs_prev_short": ("vs previous", "نسبت به دوره قبل"),
    "open_report": ("Detailed sections", "بخش‌های تفصیلی"),
    "high": ("High", "زیاد"),
    "medium": ("Medium", "متوسط"),
    "low": ("Low", "کم"),
    "reason_above": ("amount far above the mean won amount", "مبلغ بسیار بالاتر از میانگین معاملات موفق"),
    "reason_below": ("amount far below the mean won amount", "مبلغ بسیار پایین‌تر از میانگین معاملات موفق"),
    "reason_older": ("older than {pct} of won deals", "قدیمی‌تر از {pct} معاملات موفق"),
    "reason_stuck": ("stuck in {stage} for {days} d", "{days} روز متوقف در مرحله {stage}"),
    "reason_thin": ("its owner holds too few open deals", "فرصت‌های باز فروشنده کمتر از حد است"),
    "reason_low_chance": ("win chance {p} in 90 days", "احتمال موفقیت {p} تا ۹۰ روز"),
}

#: Targets, attainment and forecasts (notebook 07, the report index): text, headers, values.
_TARGETS_TEXT: dict[str, tuple[str, str]] = {
    # --- sections and tables
    "targets_title": ("Targets and attainment", "اهداف و میزان تحقق"),
    "attainment_of": ("Attainment of {period}", "تحقق اهداف {period}"),
    "forecast_title": ("Forecast for {period}", "پیش‌بینی {period}"),
    "accuracy_title": ("How accurate past forecasts were", "دقت پیش‌بینی‌های گذشته"),
    "attainment_by_owner": ("Won amount against target, per salesperson",
                            "مبلغ موفق در برابر هدف، به تفکیک کارشناس"),
    "attainment_company": ("The company's targets", "اهداف شرکت"),
    "forecast_by_owner": ("Forecast of the won amount, per salesperson", "پیش‌بینی مبلغ موفق هر کارشناس"),
    "forecast_total": ("Forecast of the whole team", "پیش‌بینی کل تیم"),
    "accuracy_table": ("Forecasts made {days} days before each period's end, against what happened",
                       "پیش‌بینی‌های {days} روز پیش از پایان هر دوره، در برابر آنچه رخ داد"),
    "accuracy_summary": ("Accuracy of each method", "دقت هر روش"),
    "no_targets_period": ("No salesperson has a won-amount target for {period}: no chart (targets.csv "
                          "holds other periods)",
                          "هیچ کارشناسی برای {period} هدف مبلغ فروش ندارد: نموداری رسم نمی‌شود (targets.csv "
                          "هدف دوره‌های دیگر را دارد)"),
    "no_targets": ("No targets: put a targets.csv (period, owner or team, measure, target) beside the "
                   "opportunities to compare with them",
                   "هدفی تعریف نشده است: برای مقایسه، فایل targets.csv (دوره، کارشناس یا تیم، شاخص، هدف) "
                   "را کنار فرصت‌ها قرار دهید"),
    "note_pace": ("{pct} of the period's business days had passed at {as_of} (weekend and holidays "
                  "excluded); expected by now is the target times that share",
                  "تا {as_of}، {pct} از روزهای کاری دوره گذشته بود (بدون تعطیلات آخر هفته و رسمی)؛ "
                  "انتظار تا امروز برابر هدف ضرب در همین سهم است"),
    "note_prorated": ("Some targets cover the period only in part: they count for the business days "
                      "they share with it",
                      "برخی اهداف تنها بخشی از دوره را می‌پوشانند و به نسبت روزهای کاری مشترک حساب شده‌اند"),
    "note_not_foreseen": ("The forecast covers the deals open at {as_of}: deals created later and won "
                          "within the period are not foreseen",
                          "پیش‌بینی فقط معاملات باز در {as_of} را در بر می‌گیرد: معاملاتی که بعداً ایجاد و در "
                          "همین دوره موفق شوند پیش‌بینی نشده‌اند"),
    "note_new_deals": ("Besides the open deals, {n} deal(s) not created yet are expected to be created and "
                       "won within the period, as in the last {windows} stretches of time of the same length",
                       "افزون بر معاملات باز، انتظار می‌رود {n} معامله که هنوز ایجاد نشده در همین دوره ایجاد و "
                       "موفق شوند، همانند {windows} بازه زمانی هم‌اندازه گذشته"),
    "note_no_close_dates": ("The data has no expected close dates: the stage-weighted pipeline counts "
                            "every open deal, whatever its close date",
                            "داده‌ها تاریخ بسته‌شدن مورد انتظار ندارند: فرصت‌های وزن‌دهی‌شده همه معاملات باز "
                            "را، صرف‌نظر از زمان بسته‌شدن، حساب می‌کنند"),
    "note_no_probability": ("{n} open deal(s) have no win probability (no history to compare with) "
                            "and add nothing to the forecast",
                            "{n} معامله باز احتمال موفقیت ندارند (سابقه‌ای برای مقایسه نیست) و در "
                            "پیش‌بینی سهمی ندارند"),
    "note_accuracy": ("Over {n} periods: mean absolute error of salesnb {salesnb}, of the stage-weighted "
                      "pipeline {stage}; the actual fell inside salesnb's 10–90% range in {inside} of "
                      "{n} periods (about 80% is expected)",
                      "در {n} دوره: میانگین خطای مطلق salesnb {salesnb} و فرصت‌های وزن‌دهی‌شده {stage}؛ "
                      "مقدار واقعی در {inside} دوره از {n} دوره درون بازه ۱۰–۹۰٪ salesnb بود "
                      "(حدود ۸۰٪ انتظار می‌رود)"),
    "accuracy_not_enough": ("No complete past period to score yet", "هنوز دوره کاملی برای ارزیابی نیست"),
    # --- columns
    "measure": ("Measure", "شاخص"),
    "target": ("Target", "هدف"),
    "actual": ("Actual", "عملکرد"),
    "target_amount": ("Target", "هدف"),
    "actual_amount": ("Actual", "عملکرد"),
    "attainment_share": ("Attainment", "درصد تحقق"),
    "expected_by_now": ("Expected by now (pace)", "انتظار تا امروز"),
    "expected_by_now_amount": ("Expected by now (pace)", "انتظار تا امروز"),
    "gap": ("Gap to pace", "فاصله تا انتظار"),
    "gap_amount": ("Gap to pace", "فاصله تا انتظار"),
    "remaining_amount": ("Remaining", "باقی‌مانده"),
    "pipeline_value": ("Pipeline", "فرصت‌های در جریان"),
    "coverage_ratio": ("Coverage (pipeline ÷ remaining)", "پوشش (فرصت‌ها ÷ باقی‌مانده)"),
    "won_so_far_amount": ("Won so far", "موفق تاکنون"),
    "won_so_far": ("Deals won so far", "معاملات موفق تاکنون"),
    "expected_amount": ("Forecast (expected)", "پیش‌بینی (مقدار انتظاری)"),
    "low_amount": ("10% (low)", "۱۰٪ (پایین)"),
    "high_amount": ("90% (high)", "۹۰٪ (بالا)"),
    "expected_deals": ("Forecast deals", "تعداد پیش‌بینی‌شده"),
    "low_count": ("Deals 10%", "تعداد ۱۰٪"),
    "high_count": ("Deals 90%", "تعداد ۹۰٪"),
    "stage_weighted_amount": ("Stage-weighted pipeline", "فرصت‌های وزن‌دهی‌شده با احتمال مرحله"),
    "commit_amount": ("Commit", "قطعی"),
    "best_case_amount": ("Best case", "بهترین حالت"),
    "category_pipeline_amount": ("Pipeline (category)", "در جریان (دسته CRM)"),
    "method": ("Method", "روش"),
    "forecast_made": ("Forecast made", "زمان پیش‌بینی"),
    "forecast_amount": ("Forecast", "پیش‌بینی"),
    "abs_error_amount": ("Absolute error", "خطای مطلق"),
    "rel_error_share": ("Relative error", "خطای نسبی"),
    "inside_interval": ("Inside 10–90%", "درون بازه ۱۰–۹۰٪"),
    "mae_amount": ("Mean absolute error", "میانگین خطای مطلق"),
    "mae_deals": ("Mean absolute error (deals)", "میانگین خطای مطلق (تعداد)"),
    "coverage_share": ("Inside 10–90%", "درون بازه ۱۰–۹۰٪"),
    "periods_scored": ("Periods", "دوره‌ها"),
    # --- values: measures and methods
    "m_won_amount": ("Won amount", "مبلغ موفق"),
    "m_won_count": ("Won deals", "تعداد موفق"),
    "m_created_count": ("Opportunities created", "فرصت‌های ایجادشده"),
    "salesnb": ("salesnb", "پیش‌بینی salesnb"),
    "stage_weighted": ("Stage-weighted pipeline", "فرصت‌های وزن‌دهی‌شده"),
    "forecast_category": ("CRM commit", "قطعی CRM"),
    # --- plots
    "title_attainment": ("Won amount against target per {group}", "مبلغ موفق در برابر هدف به تفکیک {group}"),
    "axis_share_of_target": ("Share of target", "درصد هدف"),
    "legend_target": ("Target (100%)", "هدف (۱۰۰٪)"),
    "legend_pace": ("Expected by now ({pct})", "انتظار تا امروز ({pct})"),
    "legend_on_pace": ("At or ahead of pace", "هم‌گام یا جلوتر از انتظار"),
    "legend_behind": ("Behind pace", "عقب‌تر از انتظار"),
    "legend_forecast": ("Forecast with its 10–90% range", "پیش‌بینی با بازه ۱۰–۹۰٪"),
    "no_target": ("no target", "بدون هدف"),
    "title_fan": ("Won amount in {period}: so far, forecast and target",
                  "مبلغ موفق در {period}: تاکنون، پیش‌بینی و هدف"),
    "axis_won_in_period": ("Won amount ({unit})", "مبلغ موفق ({unit})"),
    "legend_actual": ("Won so far", "موفق تاکنون"),
    "legend_expected": ("Forecast (expected)", "پیش‌بینی (مقدار انتظاری)"),
    "legend_fan": ("10–90% range", "بازه ۱۰–۹۰٪"),
    "legend_target_line": ("Target", "هدف"),
    "legend_pace_line": ("Pace (business days)", "مسیر هدف (روزهای کاری)"),
    "title_accuracy": ("Forecasts {days} days before the end, against what happened",
                       "پیش‌بینی {days} روز پیش از پایان، در برابر آنچه رخ داد"),
    "legend_actual_outcome": ("Actual", "واقعی"),
    "legend_salesnb": ("salesnb forecast (10–90%)", "پیش‌بینی salesnb (۱۰–۹۰٪)"),
    "legend_stage_weighted": ("Stage-weighted pipeline", "فرصت‌های وزن‌دهی‌شده"),
    "legend_commit": ("CRM commit", "قطعی CRM"),
    "off_scale": ("▲ beyond the top of the chart", "▲ بیرون از بالای نمودار"),
    "index_forecast": ("Forecast for {period} (as of {as_of})", "پیش‌بینی {period} (با داده‌های تا {as_of})"),
}
_CATALOGUE.update(_TARGETS_TEXT)

#: Pipeline movement (notebook 06): sections, the walk's steps and columns, notes.
_MOVEMENT_TEXT: dict[str, tuple[str, str]] = {
    # --- sections and tables
    "q6a_title": ("6a. Pipeline movement: from the start to the end of the window",
                  "۶-الف. جابه‌جایی پایپ‌لاین: از شروع تا پایان بازه"),
    "q6b_title": ("6b. Stage movement", "۶-ب. جابه‌جایی میان مراحل"),
    "q6c_title": ("6c. Overdue and pushed deals", "۶-ج. معاملات عقب‌افتاده و تعویق‌شده"),
    "movement_by_count": ("The walk by count (deals)", "گردش بر حسب تعداد معاملات"),
    "movement_by_value": ("The walk by value", "گردش بر حسب ارزش"),
    "movement_forecast": ("Pulled into and pushed out of the following period ({start} – {end})",
                          "جلوافتاده به دوره بعد و عقب‌افتاده از آن ({start} – {end})"),
    "stage_movement_table": ("Deals by stage at the start and at the end",
                             "معاملات بر حسب مرحله در شروع و در پایان"),
    "overdue_table": ("Open deals past their expected close date, or whose date was pushed",
                      "معاملات باز گذشته از تاریخ بسته‌شدن مورد انتظار، یا با تاریخ تعویق‌شده"),
    "overdue_rule": ("The {shown} of {total} deals listed first (overdue first, most overdue first)",
                     "{shown} معامله از {total} معامله (اول عقب‌افتاده‌ها، به ترتیب بیشترین تأخیر)"),
    "overdue_none": ("No open deal is past its expected close date or was pushed",
                     "هیچ معامله بازی از تاریخ بسته‌شدن مورد انتظار نگذشته و تعویق نخورده است"),
    # --- columns of the walk (the same words by count and by value)
    "mv_open_start_count": ("Open at start", "باز در شروع"),
    "mv_open_start_value": ("Open at start", "باز در شروع"),
    "mv_created_count": ("Created", "ایجادشده"),
    "mv_created_value": ("Created", "ایجادشده"),
    "mv_reassigned_in_count": ("Reassigned in", "واگذارشده به"),
    "mv_reassigned_in_value": ("Reassigned in", "واگذارشده به"),
    "mv_reassigned_out_count": ("Reassigned out", "واگذارشده از"),
    "mv_reassigned_out_value": ("Reassigned out", "واگذارشده از"),
    "mv_increased_value": ("Increased", "افزایش مبلغ"),
    "mv_decreased_value": ("Decreased", "کاهش مبلغ"),
    "mv_won_count": ("Won", "موفق"),
    "mv_won_value": ("Won", "موفق"),
    "mv_lost_count": ("Lost", "ناموفق"),
    "mv_lost_value": ("Lost", "ناموفق"),
    "mv_open_end_count": ("Open at end", "باز در پایان"),
    "mv_open_end_value": ("Open at end", "باز در پایان"),
    "mv_pulled_in_count": ("Pulled in (deals)", "جلوافتاده (تعداد)"),
    "mv_pulled_in_value": ("Pulled in (value)", "جلوافتاده (ارزش)"),
    "mv_pushed_out_count": ("Pushed out (deals)", "عقب‌افتاده (تعداد)"),
    "mv_pushed_out_value": ("Pushed out (value)", "عقب‌افتاده (ارزش)"),
    "balanced": ("Balances", "تراز است"),
    "movement": ("Movement", "جابه‌جایی"),
    "expected_close_at": ("Expected close", "تاریخ بسته‌شدن مورد انتظار"),
    "first_expected_close_at": ("First expected close", "نخستین تاریخ بسته‌شدن مورد انتظار"),
    "overdue": ("Overdue", "عقب‌افتاده"),
    "days_overdue": ("Days overdue", "روزهای تأخیر"),
    "pushes": ("Times pushed", "دفعات تعویق"),
    # --- values: stage movement
    "(new)": ("(new)", "(جدید)"),
    "(won)": ("(won)", "(موفق)"),
    "(lost)": ("(lost)", "(ناموفق)"),
    "mv_new": ("new", "جدید"),
    "mv_advanced": ("advanced", "پیشروی"),
    "mv_slipped back": ("slipped back", "پس‌رفت"),
    "mv_unchanged": ("unchanged", "بدون تغییر"),
    "mv_unknown": ("unknown", "نامعلوم"),
    "mv_won": ("won", "موفق"),
    "mv_lost": ("lost", "ناموفق"),
    # --- plots
    "title_movement_count": ("Open pipeline walk, deals: {group}", "گردش فرصت‌های باز، تعداد: {group}"),
    "title_movement_value": ("Open pipeline walk, value: {group}", "گردش فرصت‌های باز، ارزش: {group}"),
    "axis_movement_value": ("Value ({unit})", "ارزش ({unit})"),
    "axis_walk": ("From the open pipeline at the start to the open pipeline at the end",
                  "از فرصت‌های باز در شروع تا فرصت‌های باز در پایان"),
    "step_open_start": ("Open at\nstart", "باز در\nشروع"),
    "step_created": ("Created", "ایجادشده"),
    "step_reassigned_in": ("Reassigned\nin", "واگذارشده\nبه"),
    "step_reassigned_out": ("Reassigned\nout", "واگذارشده\nاز"),
    "step_increased": ("Increased", "افزایش"),
    "step_decreased": ("Decreased", "کاهش"),
    "step_won": ("Won", "موفق"),
    "step_lost": ("Lost", "ناموفق"),
    "step_open_end": ("Open at\nend", "باز در\nپایان"),
    "title_stage_movement": ("Deals by stage at the start and at the end of the window",
                             "معاملات بر حسب مرحله در شروع و پایان بازه"),
    "axis_stage_start": ("Stage at the start", "مرحله در شروع"),
    "axis_stage_end": ("Stage at the end (or closed in the window)", "مرحله در پایان (یا بسته‌شده در بازه)"),
    # --- notes
    "note_no_field_history": ("No field history: amounts, owners and expected close dates are taken as they "
                              "are now, so the walk has no reassignments, increases or decreases",
                              "تاریخچه فیلدها موجود نیست: مبلغ، کارشناس و تاریخ بسته‌شدن مورد انتظار همان "
                              "مقدار فعلی فرض شده‌اند، پس در این گردش واگذاری و افزایش یا کاهش مبلغ نیست"),
    "note_no_field_history_amounts": ("No field history: amounts and owners are taken as they are now",
                                      "تاریخچه فیلدها موجود نیست: مبلغ و کارشناس همان مقدار فعلی فرض شده‌اند"),
    "note_no_close_dates_walk": ("No expected close dates: pulled in and pushed out are 0",
                                 "تاریخ بسته‌شدن مورد انتظار موجود نیست: جلوافتاده و عقب‌افتاده صفر است"),
    "note_movement_without_amount": ("{n} deal(s) without an amount: counted in the counts, not in the values",
                                     "{n} معامله بدون مبلغ: در تعدادها شمرده شده‌اند، نه در ارزش‌ها"),
    "note_label": ("note", "یادداشت"),
    "note_currency_split": ("Amounts are in several currencies ({codes}) and no exchange rates were given: "
                            "amounts are shown per currency (the currency column), never added or averaged "
                            "across currencies; a total that would mix them is left empty (—). Give rates.csv "
                            "to convert them",
                            "مبلغ‌ها به چند ارز هستند ({codes}) و نرخ تبدیل داده نشده است: مبلغ‌ها به تفکیک ارز "
                            "(ستون ارز) نشان داده می‌شوند و هرگز میان ارزها جمع یا میانگین گرفته نمی‌شوند؛ جمعی "
                            "که ارزها را درهم کند خالی (—) می‌ماند. برای تبدیل، rates.csv بدهید"),
    "note_movement_currencies": ("Amounts are in several currencies ({codes}) and no exchange rates were given: "
                                 "the walk by value is one walk per currency (never added together); the chart "
                                 "by value shows the currency with the most deals. Give rates.csv to convert them",
                                 "مبلغ‌ها به چند ارز هستند ({codes}) و نرخ تبدیل داده نشده است: گردش ارزشی برای هر "
                                 "ارز جداست (هرگز با هم جمع نمی‌شوند)؛ نمودار ارزشی ارزی را نشان می‌دهد که بیشترین "
                                 "معامله را دارد. برای تبدیل، rates.csv بدهید"),
    "note_team_total": ("Per team: a deal keeps its team, so teams have no reassignments; moves between "
                        "salespeople are in the salesperson view (salesnb movement --by owner)",
                        "به تفکیک تیم: هر معامله در تیم خود می‌ماند و واگذاری میان تیم‌ها نیست؛ جابه‌جایی میان "
                        "کارشناسان در نمای کارشناس‌ها است (salesnb movement --by owner)"),
    "note_no_stage_history_walk": ("No stage history: every stage is (unknown)",
                                   "تاریخچه مراحل موجود نیست: همه مراحل (نامعلوم) هستند"),
    "note_no_expected_close": ("The data has no expected close date (no expected_close_at column), so no "
                               "deal can be overdue or pushed",
                               "داده‌ها تاریخ بسته‌شدن مورد انتظار ندارند (ستون expected_close_at نیست)، پس هیچ "
                               "معامله‌ای عقب‌افتاده یا تعویق‌شده نیست"),
    "note_pushes_unknown": ("No field history: pushes are unknown (0); expected close dates are as they are now",
                            "تاریخچه فیلدها موجود نیست: دفعات تعویق نامعلوم (صفر) است و تاریخ‌ها همان مقدار "
                            "فعلی‌اند"),
    "note_no_close_date_deals": ("{n} open deal(s) have no expected close date and are not judged",
                                 "{n} معامله باز تاریخ بسته‌شدن مورد انتظار ندارند و ارزیابی نشده‌اند"),
}
_CATALOGUE.update(_MOVEMENT_TEXT)

#: Persian display names of the values the package's own sample data writes (stage names,
#: outcomes, lost reasons, risk levels) and of the common English CRM stage words. Other
#: data values are shown as stored, in both languages.
_DATA_WORDS_FA: dict[str, str] = {
    "lead": "سرنخ", "qualified": "واجد شرایط", "proposal": "پیشنهاد", "negotiation": "مذاکره",
    "discovery": "نیازسنجی", "demo": "نمایش محصول", "won": "موفق", "lost": "ناموفق",
    "price": "قیمت", "competitor": "رقیب", "no budget": "نبود بودجه", "no decision": "بی‌تصمیمی",
    "timing": "زمان‌بندی", "lost contact": "قطع ارتباط", "high": "زیاد", "medium": "متوسط",
    "low": "کم", "open": "باز", "p90": "صدک ۹۰", "p75": "صدک ۷۵",
}

#: Words of :func:`salesnb.presentation.text.amount_scale` unit labels.
_UNIT_WORDS = {"trillion": "هزار میلیارد", "billion": "میلیارد", "million": "میلیون",
               "IRR": "ریال", "Toman": "تومان", "USD": "دلار", "EUR": "یورو"}

#: RIGHT-TO-LEFT MARK: makes the paragraph right to left (zero width, not drawn).
RLM = "\u200f"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_INDIC = str.maketrans("٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_BLOCKS = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF))


def check_language(language: str) -> str:
    """Return ``language`` (``en`` or ``fa``, any case), else raise :class:`~salesnb.exceptions.OptionError`.

    Examples
    --------
    >>> check_language("FA")
    'fa'
    """
    return check_option("language", language, LANGUAGES)


#: The dataset's own notes (``SalesData.notes``, written in English by the data layer)
#: that have a Persian text: (pattern, Persian template with the pattern's groups).
_NOTES_FA: tuple[tuple[str, str], ...] = (
    (r"no field history: amounts, expected close dates and owners are taken as constant \(as they are now\)",
     "تاریخچه تغییر فیلدها موجود نیست: مبلغ، تاریخ بسته‌شدن مورد انتظار و کارشناس هر معامله ثابت "
     "(همان مقدار کنونی) فرض می‌شود"),
    (r"amounts are in (\d+) currencies \((.*)\) and no exchange rates were given: every amount metric is "
     r"split by currency, never added or averaged across currencies: give rates.csv to convert them",
     "مبلغ‌ها به {0} ارز هستند ({1}) و نرخ تبدیل داده نشده است: هر شاخص مبلغی به تفکیک ارز محاسبه "
     "می‌شود و هرگز میان ارزها جمع یا میانگین گرفته نمی‌شود؛ برای تبدیل، rates.csv بدهید"),
    (r"stage order inferred from the data: (.*) \(set 'stages' in funnel.yml to fix it\)",
     "ترتیب مراحل از داده‌ها استنباط شد: {0} (برای ثابت کردن آن، stages را در funnel.yml بنویسید)"),
    (r"no stages known: the dataset has no stage history and no stage column",
     "هیچ مرحله‌ای شناخته نیست: داده‌ها نه تاریخچه مراحل دارند و نه ستون مرحله"),
)


def translate_note(note: str, language: str = "en") -> str:
    """A note of the dataset in ``language``: the Persian text of the notes the catalogue
    knows (:data:`_NOTES_FA`), Persian digits outside code; others stay as written.

    Examples
    --------
    >>> fa = translate_note("amounts are in 2 currencies (EUR 3, USD 4) and no exchange rates were given: "
    ...                     "every amount metric is split by currency, never added or averaged across "
    ...                     "currencies: give rates.csv to convert them", "fa")
    >>> fa.startswith("مبلغ‌ها به ۲ ارز هستند (EUR ۳, USD ۴)") or fa[:40]
    True
    >>> translate_note("anything else", "fa")
    'anything else'
    """
    import re

    if check_language(language) == "en":
        return note
    for pattern, template in _NOTES_FA:
        found = re.fullmatch(pattern, note)
        if found:
            return persian_digits(template.format(*found.groups()))
    return note


def translate(key: str, language: str = "en", **values: object) -> str:
    """Return the catalogue text of ``key`` in ``language`` (plain, not shaped).

    Use it for HTML and Markdown (browsers lay out Persian themselves); use
    :func:`label` for text drawn by matplotlib.

    Parameters
    ----------
    key : str
        A catalogue key, e.g. ``"win_rate"`` or ``"title_funnel"``.
    language : {"en", "fa"}, default "en"
    **values
        Values for the ``{name}`` placeholders of the text.

    Examples
    --------
    >>> translate("win_rate", "en")
    'Win rate'
    >>> translate("win_rate", "fa")
    'نرخ موفقیت'
    >>> translate("title_open_pipeline", "en", group="team")
    'Open opportunities per team'
    """
    language = check_language(language)
    try:
        pair = _CATALOGUE[key]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(key, list(_CATALOGUE), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise LanguageError(f"no text for key {key!r} in the salesnb.presentation.i18n catalogue.{hint}") from None
    text = pair[1] if language == "fa" else pair[0]
    return text.format(**values) if values else text


def translate_value(value: object, language: str = "en") -> str:
    """Translate a value the package itself writes (``(unspecified)``, ``above``...).

    In Persian, the words the package's sample data writes (its stage names, the
    won/lost outcomes, its lost reasons, risk levels) get their Persian names too; any
    other data value (owner names, a business's own stages and reasons) is returned
    unchanged as text.

    Examples
    --------
    >>> translate_value("(unspecified)", "fa")
    '(نامشخص)'
    >>> translate_value("competitor", "fa")
    'رقیب'
    >>> translate_value("competitor", "en"), translate_value("Acme deal desk", "fa")
    ('competitor', 'Acme deal desk')
    >>> translate_value("Q2", "fa")
    'چارک ۲'
    """
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    if text in _VALUE_KEYS:
        return translate(text, language)
    if check_language(language) == "fa":
        band = _BAND.fullmatch(text)
        if band:  # the size bands of deal_size_bands: Q1..Q4 (quartiles of the won amounts)
            return f"چارک {persian_digits(band.group(1))}"
        return _DATA_WORDS_FA.get(text, text)
    return text


_BAND = re.compile(r"Q([1-9])")


_VALUE_KEYS = frozenset({"(all)", "(none)", "(unspecified)", "(unknown)", "(no amount)", "above",
                         "below", "within", "no amount", "no reference", "forward", "skip",
                         "regression", "repeat", "current", "previous", "year_ago"})
_VALUE_KEYS = _VALUE_KEYS | {"salesnb", "stage_weighted", "forecast_category"}
_VALUE_KEYS = _VALUE_KEYS | {"(new)", "(won)", "(lost)"}


def latin_digits(text: object) -> str:
    """Write Persian and Arabic-Indic digits (and their separators) as Latin ones.

    What a Persian reader types into a date box is read like what an English one types.

    Examples
    --------
    >>> latin_digits("۱۴۰۴-۰۸-۰۱")
    '1404-08-01'
    """
    s = "" if text is None else str(text)
    return s.translate(_LATIN_DIGITS).replace("٬", ",").replace("٫", ".")


_LATIN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def label(key: str, language: str = "en", **values: object) -> str:
    """Return the catalogue text of ``key`` ready for matplotlib.

    The text is shaped (:func:`shape`) and, for ``fa``, written with Persian digits;
    placeholder values are inserted first, so numbers in them are converted too.

    Examples
    --------
    >>> label("n_note", "en", n=12)
    'n=12'
    """
    return plot_text(translate(key, language, **values), language)


def plot_text(text: object, language: str = "en") -> str:
    """Prepare any text for matplotlib: Persian digits for ``fa``, then :func:`shape`.

    Examples
    --------
    >>> plot_text("12.5%", "en")
    '12.5%'
    """
    language = check_language(language)
    out = "" if text is None else str(text)
    if language == "fa":
        out = persian_digits(out)
    return shape(out, language)


def table_headers(frame: pd.DataFrame, language: str = "en") -> pd.DataFrame:
    """Return ``frame`` with its KPI column names replaced by readable headers.

    Columns the catalogue does not know keep their name. The text is plain (not
    shaped): it is meant for notebook tables, where the browser handles Persian.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"owner": ["Sara"], "win_rate": [0.5], "custom": [1]})
    >>> list(table_headers(t, "en").columns)
    ['Salesperson', 'Win rate', 'custom']
    """
    language = check_language(language)
    mapping = {c: translate(c, language) for c in frame.columns
               if isinstance(c, str) and c in _CATALOGUE}
    return frame.rename(columns=mapping)


def unit_label(unit: str, language: str = "en") -> str:
    """Translate a unit label of :func:`salesnb.presentation.text.amount_scale` (``billion IRR``...).

    Examples
    --------
    >>> unit_label("billion IRR", "fa")
    'میلیارد ریال'
    >>> unit_label("million Toman", "en")
    'million Toman'
    """
    language = check_language(language)
    if language == "en":
        return unit
    return " ".join(_UNIT_WORDS.get(word, word) for word in unit.split())


def number(value: float, language: str = "en", decimals: int = 0, *, percent: bool = False) -> str:
    """Format a number with thousands separators (Persian digits and separators for ``fa``).

    Examples
    --------
    >>> number(1234567.891, "en", 1)
    '1,234,567.9'
    >>> number(0.256, "en", 1, percent=True)
    '25.6%'
    >>> number(1234.5, "fa", 1)
    '۱٬۲۳۴٫۵'
    """
    if value is None or value != value:
        return "—"
    v = 100.0 * value if percent else float(value)
    if round(v, decimals) == 0:
        v = 0.0  # no "-0"
    text = f"{v:,.{decimals}f}" + ("%" if percent else "")
    return persian_digits(text) if language == "fa" else text


def persian_digits(text: object) -> str:
    """Write digits in Persian, with the Persian separators inside numbers.

    ``1,234.5`` becomes ``۱٬۲۳۴٫۵`` and ``25%`` becomes ``۲۵٪``; a comma or point that
    is not between digits (plain punctuation) is left alone.

    Examples
    --------
    >>> persian_digits("1404-08: 12,345.5 (25%)")
    '۱۴۰۴-۰۸: ۱۲٬۳۴۵٫۵ (۲۵٪)'
    """
    s = "" if text is None else str(text)
    s = re.sub(r"(?<=\d),(?=\d{3})", "٬", s)
    s = re.sub(r"(?<=\d)\.(?=\d)", "٫", s)
    s = re.sub(r"(?<=\d)%", "٪", s)
    return s.translate(_PERSIAN_DIGITS).translate(_ARABIC_INDIC)


def has_arabic_script(text: object) -> bool:
    """Return whether ``text`` has letters of the Arabic script (Persian included) to shape."""
    if not isinstance(text, str):
        return False
    for ch in text:
        cp = ord(ch)
        if any(lo <= cp <= hi for lo, hi in _ARABIC_BLOCKS) and unicodedata.category(ch).startswith("L"):
            return True
    return False


@functools.cache
def matplotlib_applies_bidi() -> bool:
    """Return whether matplotlib lays out right-to-left text itself (libraqm, matplotlib >= 3.11).

    Probed once by laying out "اب" (alef, beh): with the bidirectional algorithm the beh
    comes first, left of the alef.
    """
    try:
        from matplotlib import _text_helpers, font_manager

        font = font_manager.get_font(font_manager.findfont(FALLBACK_FONT))
        font.set_size(12, 72)
        first = next(iter(_text_helpers.layout("\u0627\u0628", font)))
        return getattr(first, "char", "\u0627") == "\u0628"
    except Exception:  # private API changed: decide by version
        import matplotlib

        major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
        return (major, minor) >= (3, 11)


def shape(text: object, language: str = "en") -> str:
    """Make Persian (Arabic-script) text display correctly in matplotlib.

    Letters are replaced by their joined presentation forms (``arabic_reshaper``); when
    the installed matplotlib does not apply the bidirectional algorithm itself, the
    result is also put in visual, right-to-left order (``bidi.get_display``). Text with
    no Arabic-script letter — and text already shaped — is returned unchanged, whatever
    ``language`` is: owner names in Persian are shaped in English plots too.

    Parameters
    ----------
    text : str
        Any text (non-strings are converted with ``str``).
    language : {"en", "fa"}, default "en"
        With ``fa`` the text is laid out as a right-to-left paragraph (a Latin word or a
        number at its start stays on the right); otherwise its first strong letter
        decides the direction.

    Notes
    -----
    Draw Persian upright: matplotlib's DejaVu Sans Oblique has no Arabic letters, so
    ``style="italic"`` shows empty boxes. Bold is fine.

    Examples
    --------
    >>> s = shape("سارا")
    >>> s != "سارا" and all(0xFB50 <= ord(c) <= 0xFEFF for c in s)
    True
    >>> shape("Sara")
    'Sara'
    """
    language = check_language(language)
    s = "" if text is None else str(text)
    if not has_arabic_script(s):
        return s
    import arabic_reshaper

    if "\n" in s:  # matplotlib lays out each line on its own: shape each on its own
        return "\n".join(shape(line, language) for line in s.split("\n"))
    reshaped = arabic_reshaper.reshape(s)
    # Persian text of a Persian plot is a right-to-left paragraph even when it starts
    # with a Latin word or a number ("Tehran: ۷۳ معامله"); elsewhere the first strong
    # letter decides, as usual.
    rtl = language == "fa"
    if matplotlib_applies_bidi():
        return RLM + reshaped if rtl else reshaped
    from bidi import get_display

    return str(get_display(reshaped, base_dir="R" if rtl else None))


@functools.cache
def _installed_fonts() -> frozenset[str]:
    from matplotlib import font_manager

    return frozenset(f.name for f in font_manager.fontManager.ttflist)


def font_families(language: str = "en", base: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Return a font family list that can draw Persian, for matplotlib's per-glyph fallback.

    ``fa``: a Persian font the machine has (see ``PERSIAN_FONTS``) first, then the
    configured families. ``en``: the configured families first (the user's choice is
    kept), Persian fonts only as fallback. Both end with DejaVu Sans, bundled with
    matplotlib, which has every Persian glyph.

    Parameters
    ----------
    base : list of str, optional
        The configured families (default: ``rcParams["font.family"]``).
    """
    import matplotlib as mpl

    language = check_language(language)
    configured = list(base) if base is not None else list(mpl.rcParams["font.family"])
    installed = _installed_fonts()
    persian = [f for f in PERSIAN_FONTS if f in installed]
    order = [*persian, *configured] if language == "fa" else [*configured, *persian]
    out: list[str] = []
    for name in [*order, FALLBACK_FONT]:
        if name not in out:
            out.append(name)
    return out


def catalogue(language: str = "en") -> Mapping[str, str]:
    """Return the whole catalogue in ``language`` (key -> plain text), e.g. for review."""
    language = check_language(language)
    i = 1 if language == "fa" else 0
    return {k: v[i] for k, v in _CATALOGUE.items()}
