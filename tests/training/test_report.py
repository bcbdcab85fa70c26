"""The cross-validation report's tables: the cells the model card and the bench share."""

from __future__ import annotations

from fallwatch.training.report import outcome_cell, per_source_table, ratio


def test_ratio_gives_a_share_or_a_dash() -> None:
    assert ratio(3, 4) == "3/4 (0.75)"
    assert ratio(0, 0) == "-"


def test_outcome_cell_marks_the_class_a_source_lacks() -> None:
    assert outcome_cell({"falls": 4, "falls_caught": 3, "adl": 0, "adl_quiet": 0}) == "3/4 / -"
    assert outcome_cell({"falls": 0, "falls_caught": 0, "adl": 5, "adl_quiet": 5}, ", ") == "-, 5/5"


def test_per_source_table_says_not_run_where_a_reference_skipped_a_source() -> None:
    row = {"falls": 2, "falls_caught": 1, "adl": 1, "adl_quiet": 1}
    report = {
        "per_video": {
            "fallwatch": {"by_source": {"le2i": row, "ur_fall": row}},
            "human_fall_detection": {"by_source": {"le2i": row}},
        }
    }
    lines = per_source_table(report).splitlines()
    assert lines[2] == "| le2i | 1/2 / 1/1 | 1/2 / 1/1 |"
    assert lines[3] == "| ur_fall | 1/2 / 1/1 | not run |"
