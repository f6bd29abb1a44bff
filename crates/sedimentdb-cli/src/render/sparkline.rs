//! A sparkline: a series' shape in a few block characters.

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `values` in at most `width` characters: consecutive values are averaged into one
/// cell, scaled between the smallest and largest finite cell. A cell with no finite
/// value is a space; a flat series is a row of the lowest bar.
pub fn sparkline(values: &[f64], width: usize) -> String {
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let cells = values.len().min(width);
    let mut means = Vec::with_capacity(cells);
    for c in 0..cells {
        let from = c * values.len() / cells;
        let to = ((c + 1) * values.len() / cells).max(from + 1);
        let finite: Vec<f64> = values[from..to]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        means.push(if finite.is_empty() {
            f64::NAN
        } else {
            finite.iter().sum::<f64>() / finite.len() as f64
        });
    }
    let lo = means
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = means
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    means
        .iter()
        .map(|&m| {
            if !m.is_finite() {
                ' '
            } else if hi <= lo {
                BARS[0]
            } else {
                let i = ((m - lo) / (hi - lo) * (BARS.len() - 1) as f64).round() as usize;
                BARS[i.min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_scale_gaps_and_width() {
        assert_eq!(
            sparkline(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 8),
            "▁▂▃▄▅▆▇█"
        );
        assert_eq!(sparkline(&[5.0, f64::NAN, 5.0], 10), "▁ ▁");
        // 100 values into 10 cells: rising, first lowest, last highest.
        let rising: Vec<f64> = (0..100).map(f64::from).collect();
        let s = sparkline(&rising, 10);
        assert_eq!(s.chars().count(), 10);
        assert!(s.starts_with('▁') && s.ends_with('█'), "{s}");
        assert_eq!(sparkline(&[], 10), "");
    }
}
