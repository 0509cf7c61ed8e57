"""``experiments/fair/recheck_seed_intervals.py``: every seed-level interval a page prints beside
its per-seed differences, recomputed as the Student-t interval, and the verdicts that change."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "fair" / "recheck_seed_intervals.py"

PAGE = textwrap.dedent(
    """\
    ### my-shop

    #### PPO against the supervised baseline (paired)

    **ppo − baseline**, paired over the same 500 (seed, user) pairs:

    Seed level (5 evaluation seeds as units; two-stage bootstrap over seeds, then users; t-test):

    | metric | difference [95% CI] | per-seed differences | seeds ppo better | t p |
    |---|---|---|---|---|
    | return | 0.200 [0.050, 0.350] | 0.500, -0.100, 0.300, 0.200, 0.100 | 4/5 | 0.2 |
    | engagement | 0.100 [0.000, 0.200] | 0.100, 0.100, 0.100, 0.100, 0.100 | 5/5 | n/a |

    | PPO agent | PPO − baseline return [95% CI] | per-seed differences | seeds PPO won | t p |
    |---|---|---|---|---|
    | long budget | **+1.00 [+0.90, +1.10]** | +1.1, +0.9, +1.0, +1.05, +0.95 | 5/5 | 0.0001 |
    """
)


def run(page: Path, *flags: str) -> str:
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--page", str(page), *flags],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return res.stdout


def test_the_corrected_interval_is_the_t_interval_of_the_printed_seeds(tmp_path: Path) -> None:
    page = tmp_path / "evaluation.md"
    page.write_text(PAGE, encoding="utf-8")
    rows = [line for line in run(page).splitlines() if line.startswith("| my-shop")]
    assert len(rows) == 2  # return and the hand-made table's row; engagement only with the flag
    values = [0.5, -0.1, 0.3, 0.2, 0.1]
    low, high = sps.t.interval(0.95, 4, loc=0.2, scale=sps.sem(values))
    assert rows[0] == (
        "| my-shop › PPO against the supervised baseline (paired) | ppo − baseline | return | "
        f"+0.200 [+0.050, +0.350] | +0.200 [{low:+.3f}, {high:+.3f}] | **True → False** |"
    )
    assert rows[1].endswith(
        "| long budget | +1.000 [+0.900, +1.100] | +1.000 [+0.902, +1.098] | same |"
    )
    assert (
        len([x for x in run(page, "--all-metrics").splitlines() if x.startswith("| my-shop")]) == 3
    )


def test_a_shell_comment_in_a_code_block_is_not_a_heading(tmp_path: Path) -> None:
    """`# …` inside a ``` block (a command's comment) left the rows below it without their
    section; they are filed under the heading above the block."""
    block = "```bash\n# the same agents against five fits\ndivrec-rl evaluate ...\n```\n\n"
    page = tmp_path / "evaluation.md"
    page.write_text(PAGE.replace("**ppo − baseline**", block + "**ppo − baseline**"), "utf-8")
    rows = [line for line in run(page).splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 2
    assert all(r.startswith("| my-shop › PPO against the supervised baseline") for r in rows)


def test_a_page_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--page", str(tmp_path / "nofile")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    err = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(err) == 1 and "--page" in err[0] and not res.stdout


def test_a_table_after_a_bold_lead_is_placed_under_that_lead(tmp_path: Path) -> None:
    # A heading can hold several tables: the filter-bubble five-fit table sat under "Cross-
    # simulator check" and was listed as that check's rows.
    page = tmp_path / "evaluation.md"
    table = textwrap.dedent(
        """\
        | comparison | PPO − baseline, seed level | per seed | seeds PPO won | t p |
        |---|---|---|---|---|
        | five fits | +0.100 [+0.000, +0.200] | 0.1, 0.2, 0.0, 0.1, 0.1 | 4/5 | 0.05 |
        """
    )
    page.write_text(
        "### my-shop\n\n#### Cross-simulator check\n\n"
        "**Retrained elsewhere (2026-12-02).** Five fits:\n\n" + table
        + "\n#### Next heading\n\n" + table,
        encoding="utf-8",
    )  # fmt: skip
    rows = [line for line in run(page).splitlines() if line.startswith("| my-shop")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| my-shop › Cross-simulator check › Retrained elsewhere (2026-12-02)",
        "| my-shop › Next heading",
    ]
