"""The per-tag accuracy chart: tags by support, at most the number asked for."""

import pytest

from postag.analysis.figures import per_tag_figure
from postag.analysis.views import TagFigures


def _rows(n: int) -> list[dict]:
    # support falls with the tag's number, except that tag 7 is the most frequent of all
    return [{"tag": f"T{i}", "support": 1000 if i == 7 else n - i, "accuracy": i / n} for i in range(n)]


def _labels(figure) -> list[str]:
    return [label.get_text() for label in figure.axes[0].get_xticklabels()]


def test_the_chart_keeps_the_most_frequent_tags_in_order_of_support_and_says_how_many_of_how_many():
    figure = per_tag_figure(_rows(100), "validation accuracy per tag", most_frequent=5)
    assert _labels(figure) == ["T7", "T0", "T1", "T2", "T3"]
    assert [bar.get_height() for bar in figure.axes[0].patches] == [0.07, 0.0, 0.01, 0.02, 0.03]
    assert figure.axes[0].get_title() == "validation accuracy per tag, the 5 most frequent of 100 tags"


def test_a_tag_set_within_the_limit_is_drawn_whole_under_its_own_title():
    figure = per_tag_figure(_rows(8), "test accuracy per tag", most_frequent=8)
    assert sorted(_labels(figure)) == sorted(f"T{i}" for i in range(8))
    assert figure.axes[0].get_title() == "test accuracy per tag"


@pytest.mark.parametrize("settings", [{"chart_tags": 0}, {"top": 0}])
def test_tag_figures_refuse_an_empty_chart_or_matrix(settings):
    with pytest.raises(ValueError, match="must be at least 1"):
        TagFigures(**settings)
