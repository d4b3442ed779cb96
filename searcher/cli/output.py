"""What the commands print: text from documents made safe for a terminal, results and
facets, JSON, and the progress bar."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.progress import Progress

#: screen, ``ESC ] 0;…`` sets the window title), DEL and C1 (CSI, OSC as one character).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def visible(text: str, keep: str = "") -> str:
    """*text* (from a document or a file name) with its control characters shown as escapes
    (``\\x1b``), except those in *keep* (the newlines and tabs of a whole text)."""
    return _CONTROLS.sub(lambda m: m.group() if m.group() in keep
                         else f"\\x{ord(m.group()):02x}", text)


def marked(text: str, spans: list[tuple[int, int]], style: str, base: str = "") -> Any:
    """A rich Text of *text* (made :func:`_visible`) with the spans (merged, sorted offsets
    into *text*) in *style*; escapes lengthen the text, so spans are applied piece by piece."""
    from rich.text import Text

    out = Text(style=base)
    done = 0
    for start, end in spans:
        out.append(visible(text[done:start]))
        out.append(visible(text[start:end]), style=style)
        done = end
    out.append(visible(text[done:]))
    return out


def print_json(data: Any) -> None:
    from ..reports import json_text

    typer.echo(json_text(data, indent=2, default=str))


class progress_bar:
    """A rich progress bar on a terminal; a no-op callback elsewhere."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Progress | None = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        bar = self._bar = Progress("indexing", BarColumn(), MofNCompleteColumn(),
                                   TimeRemainingColumn(), transient=True)
        bar.start()
        task = bar.add_task("index", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()



def print_facets(facets: dict[str, list[tuple[str, int]]]) -> None:
    """One line per facet: ``author    趣头条 3 · 新华社 2``."""
    from rich.console import Console
    from rich.text import Text

    if not facets:
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(Text("\nfacets (all matches):", style="dim"))
    width = max(len(name) for name in facets)
    for name, pairs in facets.items():
        line = Text(f"  {name:<{width}}  ", style="bold")
        for i, (value, count) in enumerate(pairs):
            if i:
                line.append(" · ", style="dim")
            line.append(visible(value))
            line.append(f" {count}", style="cyan")
        if not pairs:
            line.append("(none)", style="dim")
        console.print(line)


def print_results(results) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    for notice in getattr(results, "notices", ()):
        console.print(Text(f"Note: {notice.message}", style="yellow"))
    if getattr(results, "did_you_mean", None):
        console.print(Text(f"您是不是要找：{results.did_you_mean}", style="bold yellow"))
    if results.relaxed:
        console.print(Text("No document has every word; showing the best partial matches.",
                           style="yellow"))
    if not results.hits:
        console.print(Text(f"No results for {results.query!r}." if results.total == 0
                           else f"No results on page {results.page} (of {results.pages})."))
        return
    first = (results.page - 1) * results.limit + 1
    console.print(Text(
        f"{results.total} results, showing {first}-{first + len(results.hits) - 1} "
        f"({results.elapsed * 1000:.0f} ms)", style="dim"))
    for hit in results.hits:
        line = Text(f"{hit.rank:>3}. ")
        line.append_text(marked(hit.title, hit.title_highlights, "bold reverse", "bold"))
        if hit.near_duplicate:
            line.append("  near-duplicate", style="yellow")
        console.print(line)
        date = hit.date.strftime("%Y-%m-%d %H:%M") if hit.date else "no date"
        console.print(Text(f"     {date}  {visible(hit.author)}  {visible(hit.path)}",
                           style="dim"))
        console.print(Text("     ").append_text(marked(hit.snippet, hit.highlights, "bold red")))

