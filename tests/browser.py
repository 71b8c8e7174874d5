"""What the browser tests ask of every Plotly chart on a page."""

# For each chart with a toolbar: the text it covers (titles, legend entries, tick labels) and the plot areas it
# overlaps; both must be empty.  The toolbar's box is measured even while it is hidden until hover.
COVERED = """[...document.querySelectorAll('.js-plotly-plot')].map(chart => {
  const bar = chart.querySelector('.modebar');
  if (!bar) return {id: chart.id, toolbar: false, texts: [], plots: 0};
  const a = bar.getBoundingClientRect();
  const hit = b => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  return {id: chart.id, toolbar: true,
          texts: [...chart.querySelectorAll('text')].filter(t => t.textContent.trim() && hit(t.getBoundingClientRect()))
                   .map(t => t.textContent),
          plots: [...chart.querySelectorAll('.nsewdrag')].filter(r => hit(r.getBoundingClientRect())).length};
})"""


def toolbars_cover_nothing(page) -> list[dict]:
    """Every chart on ``page`` whose toolbar covers a text or a plot area (an empty list when none does)."""
    return [chart for chart in page.evaluate(COVERED) if chart["texts"] or chart["plots"]]
