//! Charts drawn on the server as SVG: no script and nothing from elsewhere (the pages' content
//! security policy allows neither). A chart is horizontal bars — a label on the left, the bar, the
//! number at its end — so it stays readable at 375 px, where a column chart's labels would
//! collide. The picture is hidden from screen readers; the same numbers follow it as a table
//! (visually hidden) with the chart's title as its caption.

/// One bar: what it counts, how many, and where the counted things are listed.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub href: Option<String>,
}

/// A chart ready for a template: `{{ chart.svg|safe }}` draws it, `chart.bars` makes its table.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub bars: Vec<Bar>,
    /// The SVG markup; every text in it is escaped here.
    pub svg: String,
}

impl BarChart {
    pub fn is_empty(&self) -> bool {
        self.bars.iter().all(|b| b.value == 0)
    }
}

// Drawn for a phone: at 375 px a card is about 320 px wide, so the picture is shown at nearly its
// own size and its 12 px text stays readable; wider screens scale it up to the card's max width.
const WIDTH: i64 = 340;
const LABEL_WIDTH: i64 = 130;
const VALUE_WIDTH: i64 = 40;
const ROW: i64 = 28;
const BAR: i64 = 18;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Labels longer than the label column are cut with an ellipsis (the table has them whole).
fn fit(label: &str) -> String {
    const MAX: usize = 18;
    if label.chars().count() <= MAX { label.to_owned() } else { format!("{}…", label.chars().take(MAX - 1).collect::<String>()) }
}

/// Horizontal bars scaled to the largest value; a bar with a link is a link in the picture too.
pub fn horizontal_bars(title: impl Into<String>, bars: Vec<Bar>) -> BarChart {
    draw(title.into(), bars, VALUE_WIDTH, |v| v.to_string())
}

/// [`horizontal_bars`] of amounts of money (minor units of `currency`): each bar ends with the
/// amount as people read it (`€1,200.00`), so the number column is wider; a negative month (more
/// clawed back than earned) has no bar and its amount.
pub fn money_bars(title: impl Into<String>, bars: Vec<Bar>, currency: &str) -> BarChart {
    draw(title.into(), bars, MONEY_WIDTH, |v| crate::display::money(v, currency))
}

/// The number column of a money chart: room for "€123,456.00" at 12 px.
const MONEY_WIDTH: i64 = 84;

fn draw(title: String, bars: Vec<Bar>, value_width: i64, text: impl Fn(i64) -> String) -> BarChart {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let label_width = if value_width > VALUE_WIDTH { LABEL_WIDTH - (value_width - VALUE_WIDTH) / 2 } else { LABEL_WIDTH };
    let span = WIDTH - label_width - value_width;
    let height = ROW * i64::try_from(bars.len()).unwrap_or(0).max(1);
    let mut svg =
        format!(r#"<svg viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg" aria-hidden="true" focusable="false">"#);
    for (i, bar) in bars.iter().enumerate() {
        let y = ROW * i64::try_from(i).unwrap_or(0);
        let width = if bar.value > 0 { (bar.value * span / max).max(2) } else { 0 };
        let text_y = y + BAR - 4;
        let mut row = format!(
            r#"<text x="{x}" y="{text_y}" text-anchor="end">{label}</text><rect class="bar" x="{label_width}" y="{y}" width="{width}" height="{BAR}" rx="2"/><text x="{value_x}" y="{text_y}">{value}</text>"#,
            x = label_width - 8,
            label = escape(&fit(&bar.label)),
            value_x = label_width + width + 6,
            value = escape(&text(bar.value)),
        );
        if let Some(href) = &bar.href {
            row = format!(r#"<a href="{}">{row}</a>"#, escape(href));
        }
        svg.push_str(&row);
    }
    svg.push_str("</svg>");
    BarChart { title, bars, svg }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: i64) -> Bar {
        Bar { label: label.to_owned(), value, href: None }
    }

    #[test]
    fn bars_are_scaled_to_the_largest_value_and_every_text_is_escaped() {
        let chart = horizontal_bars(
            "Partners",
            vec![bar("active", 40), bar("<script>&\"", 10), Bar { href: Some("/x?a=1&b=2".into()), ..bar("none", 0) }],
        );
        let span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
        assert!(chart.svg.contains(&format!(r#"width="{span}""#)), "the largest bar fills the span: {}", chart.svg);
        assert!(chart.svg.contains(&format!(r#"width="{}""#, span / 4)), "a quarter of it is a quarter as long");
        assert!(chart.svg.contains(r#"width="0""#), "nothing is no bar");
        assert!(chart.svg.contains("&lt;script&gt;&amp;&quot;") && !chart.svg.contains("<script>"));
        assert!(chart.svg.contains(r#"<a href="/x?a=1&amp;b=2">"#));
        assert!(chart.svg.contains(r#"viewBox="0 0 340 84""#), "three rows");
        assert!(!chart.is_empty());
        assert!(horizontal_bars("none", vec![bar("a", 0)]).is_empty());
    }

    #[test]
    fn money_bars_end_with_the_amount_as_people_read_it() {
        let chart = money_bars("Earnings", vec![bar("Nov 2026", 120_000), bar("Dec 2026", -5_000)], "EUR");
        assert!(chart.svg.contains(">€1,200.00</text>"), "{}", chart.svg);
        assert!(chart.svg.contains(">-€50.00</text>") && chart.svg.contains(r#"width="0""#), "a negative month has no bar");
    }

    #[test]
    fn long_labels_are_cut_in_the_picture_only() {
        let long = "A very long partner program name indeed";
        let chart = horizontal_bars("Tiers", vec![bar(long, 3)]);
        assert!(chart.svg.contains("A very long partn…"));
        assert_eq!(chart.bars[0].label, long);
    }
}
