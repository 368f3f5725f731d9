"""Site chrome that scrapers leave in articles, as data.

A paragraph is dropped only when the *whole* paragraph matches one of these patterns, and only
when it is short: a real paragraph that happens to mention "news" or "share" is never dropped.
To teach the cleaner a new site, add a row here; nothing else needs to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ChromeRule:
    reason: str
    pattern: re.Pattern[str]


def _rule(reason: str, *alternatives: str) -> ChromeRule:
    return ChromeRule(reason, re.compile("|".join(f"(?:{a})" for a in alternatives), re.I))


# Paragraphs longer than this are article text, whatever they say.
MAX_CHROME_CHARS = 200

_AR_LATEST = "(?:آخر|اخر|أخر|أحدث|احدث)"
_AR_NEWS = "(?:الأخبار|الاخبار|أخبار|اخبار)"

RULES: tuple[ChromeRule, ...] = (
    _rule(
        "view counter",
        r"[\d٠-٩][\d٠-٩,.،]*\s*(?:مشاهدة|مشاهدات|قراءة|قراءات|زيارة|views?|reads?)",
        r"(?:عدد\s+)?(?:المشاهدات|القراءات|الزيارات)\s*:?\s*[\d٠-٩][\d٠-٩,.،]*",
        r"(?:views?|reads?)\s*:?\s*[\d,.]+",
    ),
    _rule(
        "share prompt",
        r"(?:ارسال|إرسال|أرسل|ارسل|شارك|شاركوا|مشاركة)\s+(?:الخبر|المقال|الموضوع|هذا الخبر)"
        r"(?:\s+(?:الى|إلى|عبر|على))?\s*:?",
        r"(?:share|email|send|tweet)(?:\s+(?:this|the))?(?:\s+(?:article|story|post|page|news))?"
        r"(?:\s+(?:on|via|to|with))?(?:\s+(?:facebook|twitter|x|whatsapp|telegram|linkedin|email))*\s*:?",
    ),
    _rule(
        "source credit",
        r"ورد\s+هذا\s+الخبر\s+في\s+موقع.*",
        r".*(?:لقراءة|لمتابعة)\s+(?:تفاصيل|باقي|المزيد).*(?:اضغط|انقر)\s+هنا.*",
        r"(?:المصدر|مصدر الخبر)\s*:\s*.{1,80}",
        r"(?:this\s+(?:article|story)\s+(?:was\s+)?(?:originally\s+)?(?:appeared|published)\s+(?:on|in|at)).*",
        r"(?:source|via)\s*:\s*.{1,80}",
        r".*\b(?:click|tap)\s+here\b.*(?:read|full|story|article|details).*",
        r".*\b(?:read|continue reading)\s+(?:the\s+)?(?:full|more|original)\b.*",
    ),
    _rule(
        "latest-news link",
        rf"{_AR_LATEST}\s+{_AR_NEWS}.*(?:الان|الآن|مباشر|هنا|الرابط).*",
        r"(?:اقرأ|اقرا|إقرأ)\s+(?:أيضا|أيضاً|ايضا|ايضاً|المزيد)\s*:?.{0,120}",
        rf"(?:{_AR_NEWS}\s+ذات\s+صلة|مواضيع\s+ذات\s+صلة|اقرأ المزيد)\s*:?",
        r"(?:latest|more|related|top|breaking)\s+(?:news|stories|articles|headlines)"
        r"(?:\s+(?:from|on|about|in)\b.{0,80})?\s*:?",
        r"(?:read\s+(?:also|more)|see\s+also|related)\s*:.{0,120}",
    ),
    _rule(
        "copyright / design line",
        r"(?:©|\(c\)|copyright|حقوق\s+(?:الطبع|النشر)|جميع\s+الحقوق\s+محفوظة).*",
        r".*(?:جميع\s+الحقوق\s+محفوظة|all\s+rights\s+reserved).*",
        r".*\|\s*(?:تصميم|تطوير|برمجة|designed\s+by|design\s+by|powered\s+by)\b.*",
    ),
)


def chrome_reason(paragraph: str) -> str | None:
    """Why `paragraph` is site chrome (e.g. "view counter"), or None when it is article text.

    Spaces are collapsed within each line but line breaks are kept, and `.` does not cross
    them: a rule such as "© and anything after it" takes the rest of its own line, never the
    sentence on the next line.
    """
    text = "\n".join(" ".join(line.split()) for line in paragraph.splitlines() if line.strip())
    if not text or len(text) > MAX_CHROME_CHARS:
        return None
    for rule in RULES:
        if rule.pattern.fullmatch(text):
            return rule.reason
    return None
