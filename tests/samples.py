"""Sample data for tests: the seed article and three tiny articles in Arabic and English."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "000_c298b06fccaec04c.txt"

ARTICLES = {
    "seeds/001_dates.txt": (
        "موسم التمور في الأحساء\n\n120 مشاهدة\n\n"
        "بدأ موسم حصاد التمور في واحة الأحساء هذا الأسبوع، ويتوقع المزارعون إنتاجاً وفيراً.\n\n"
        "وقال رئيس جمعية المزارعين إن سعر الكيلوغرام من تمر الخلاص ارتفع إلى عشرين ريالاً.\n\n"
        "ارسال الخبر الى:\n"
    ),
    "seeds/002_rain.md": (
        "# Heavy rain floods the coastal road\n\n"
        "Heavy rain flooded the coastal road near Alexandria on Sunday, officials said.\n\n"
        "The latest news from the ministry says the road will reopen on Tuesday.\n\n"
        "© 2024 Example News | Designed by Someone\n"
    ),
    "seeds/003_library.txt": (
        "افتتاح مكتبة عامة جديدة\n\n"
        "افتتحت البلدية مكتبة عامة جديدة تضم خمسين ألف كتاب في وسط المدينة.\n\n"
        "وتفتح المكتبة أبوابها يومياً من التاسعة صباحاً حتى التاسعة مساءً.\n"
    ),
}


def syndicated(text: str) -> str:
    """The seed article's body as another site republished it: another headline and view
    counter above, another site's footer below."""
    body = text.split("\n\n")[2:8]
    header = ["التحالف الرباعي ضد داعش: كيف انتهى؟", "1,204 قراءة"]
    footer = [
        "اقرأ أيضاً: آخر أخبار سوريا والعراق",
        "جميع الحقوق محفوظة © 2025 شبكة الأخبار العربية",
    ]
    return "\n\n".join(header + body + footer) + "\n"
