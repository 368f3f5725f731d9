"""Answer-type cues: what kind of answer a question asks for, and whether a text holds one.

"When / متى / في أي عام" asks for a time (a year, a date, a month, a century), "how many / كم /
ما عدد" for a number, "who / من هو" for a person. A sentence that holds that kind of thing is
more likely to answer than one that only shares the topic. Both are read in folded text
(`qa.text.normalize`), so hamza, ى/ي and ة/ه spellings and Arabic-Indic digits all match.

Names are only recognized in Latin script (a capitalized word inside a sentence): Arabic has
no capitals, and no name list or tagger ships here.

Measured as a ranking signal in benchmarks/reader_questions.py, and not shipped: a bonus for a
best sentence that holds the kind asked for moves Recall@1 by less than 0.002 on the dev
objective at its best weight (docs/retrieval.md). It lives here, with the measurement.
"""

from __future__ import annotations

import re

from qa.text import normalize

TIME, NUMBER, PERSON = "time", "number", "person"
KINDS = (TIME, NUMBER, PERSON)

# Question openings, in folded form (qa.text.normalize: أ/إ/آ -> ا, ى -> ي, ة -> ه), matched at
# the start of the question after any leading punctuation or marks (ARCD writes " - من هو ...").
# "من" alone opens "who" questions but also "من اين" (from where) and "من اي" (from which).
_ASKS = (
    (
        TIME,
        r"(?:(?:و|ف)?متي|منذ متي|الي متي|حتي متي|(?:في|خلال|منذ) (?:اي|اى) (?:عام|سنه|تاريخ|"
        r"يوم|شهر|قرن|عقد|فتره|وقت|زمن)|(?:ما|ماهو|ما هو) (?:تاريخ|عام|سنه)|في عام كم)\b"
        r"|(?:when|what year|which year|in (?:what|which) (?:year|decade|century|month)"
        r"|what (?:date|day|month|century|decade|time)|on what (?:date|day)|since when)\b",
    ),
    (
        NUMBER,
        r"(?:(?:و|ف|ب|ل|الي|من)?كم|(?:ما|ماهو|ما هو|ماهي|ما هي) (?:عدد|نسبه|مساحه|طول|عرض|"
        r"ارتفاع|عمق|عمر|حجم|مقدار|قيمه|سعر|مدة|مده|وزن))\b"
        r"|(?:how (?:many|much|long|far|old|big|large|tall|high|often|deep|wide)"
        r"|what (?:percentage|percent|proportion|fraction|number|amount|is the population))\b",
    ),
    (
        PERSON,
        r"(?:(?:و|ف)?من (?:هو|هي|هم|الذي|التي|الذين|كان|كانت|قام|قامت)|(?:و|ف)?من (?!اين|اي|"
        r"ايه|اجل|اين|متي|كم|خلال|بين|ضمن)(?=\S+$|\S+ )|لمن)\b"
        r"|(?:who|whom|whose)\b",
    ),
)
_ASK = [(kind, re.compile(pattern)) for kind, pattern in _ASKS]
_LEAD = re.compile(r"^[\W_]+")

_YEAR = r"(?<!\d)(?:1\d{3}|20\d{2})(?!\d)"
_MONTHS_AR = (
    "يناير فبراير مارس ابريل مايو يونيو يوليو اغسطس سبتمبر اكتوبر نوفمبر ديسمبر "
    "كانون شباط اذار نيسان ايار حزيران تموز ايلول تشرين محرم شعبان رمضان شوال"
)
_MONTHS_EN = "january february march april may june july august september october november december"
_HOLDS = {
    TIME: re.compile(
        rf"{_YEAR}|\b(?:[وبل]|ال)?(?:{'|'.join(_MONTHS_AR.split())})\b"
        rf"|\b(?:{'|'.join(_MONTHS_EN.split())})\b"
        r"|\b(?:[وبل]?ال)?(?:قرن|قرون|عقد)\b|\b(?:centur(?:y|ies)|decades?|\d+s)\b"
    ),
    NUMBER: re.compile(
        r"\d"
        r"|\b(?:[وبل]|ال|[وبل]ال)?(?:اثن|ثلاث|اربع|خمس|ست|سبع|ثمان|تسع|عشر|مئه|مائه|مئات|الف|"
        r"الاف|مليون|ملايين|مليار|مليارات|نصف|ربع|ثلث)\w*"
        r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty"
        r"|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?"
        r"|dozens?|half|third|quarter|percent)\b"
    ),
}
# A capitalized Latin word that does not start its sentence: a name (or a place, a title).
_NAME = re.compile(r"(?<=[A-Za-z0-9,;:)\]] )[A-Z][a-z]+")


def answer_kind(question: str) -> str | None:
    """TIME, NUMBER or PERSON when the question's opening asks for one, else None."""
    text = _LEAD.sub("", normalize(question)).replace("\u200f", "").replace("\u200e", "")
    text = _LEAD.sub("", text)
    for kind, pattern in _ASK:
        if pattern.match(text):
            return kind
    return None


def holds(kind: str | None, text: str) -> bool:
    """Whether `text` holds an answer of `kind` (False for None)."""
    if kind is None:
        return False
    if kind == PERSON:
        return bool(_NAME.search(text))
    return bool(_HOLDS[kind].search(normalize(text)))
