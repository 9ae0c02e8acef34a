"""The README's and docs' links to files of the project lead to files that are there, and to headings
that are there, so that moving a section somewhere else cannot leave a link behind."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path):
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens,
    and a heading met again numbered (``-1``, ``-2``, ...)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.M):
        anchor = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        seen[anchor] = seen.get(anchor, -1) + 1
        yield anchor if seen[anchor] == 0 else f"{anchor}-{seen[anchor]}"


def local_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_local_link_leads_to_a_file_and_heading_that_are_there(page):
    broken = []
    for link in local_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(link)
        elif anchor and target.suffix == ".md" and anchor not in set(anchors(target)):
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)}: links to nothing: {broken}"


def test_the_anchor_rule_reads_headings_as_github_does(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Plain English: `--tokenize`\n\n## Ablation: what each part of `model=best` adds\n\n## Runs\n\n## Runs\n")
    assert list(anchors(page)) == ["plain-english---tokenize", "ablation-what-each-part-of-modelbest-adds", "runs", "runs-1"]
