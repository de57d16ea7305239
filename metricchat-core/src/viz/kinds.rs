//! The chart kinds added for dashboards (issue 16): treemap, funnel, radar, candlestick and a
//! map without a base map. Filling their columns from a hint and the data; drawn in `echarts`.

use super::shape::{Role, Shape};
use super::{ChartSpec, ChartType};

/// A spec of one of the kinds here, with the given columns where they fit and the data's
/// otherwise; `None` when the columns cannot make it.
pub(super) fn fill(
    shape: &Shape,
    chart_type: ChartType,
    x: Option<usize>,
    y: &[usize],
    series: Option<usize>,
) -> Option<ChartSpec> {
    use ChartType as T;
    let numeric = |i: &usize| shape.columns[*i].numeric;
    let y_numbers: Vec<usize> = y.iter().copied().filter(numeric).collect();
    let y_label = y.iter().copied().find(|i| !numeric(i));
    let labels = [Role::Category, Role::Time];
    let any_label = [Role::Category, Role::Time, Role::Other];
    let spec = match chart_type {
        T::Treemap | T::Funnel => {
            let x = x
                .or(series)
                .or(y_label)
                .or_else(|| shape.first(&any_label, &y_numbers))?;
            let value = y_numbers
                .iter()
                .copied()
                .find(|&i| i != x)
                .or_else(|| shape.measures_except(&[x]).first().copied())?;
            shape.spec(chart_type, Some(x), &[value], None)
        }
        T::Radar => {
            let x = x.or_else(|| shape.first(&labels, &y_numbers))?;
            let mut ys: Vec<usize> = y_numbers.iter().copied().filter(|&i| i != x).collect();
            if ys.is_empty() {
                ys = shape.measures_except(&[x]);
            }
            if ys.is_empty() {
                return None;
            }
            shape.spec(T::Radar, Some(x), &ys, None)
        }
        T::Candlestick => {
            let x = x.or_else(|| shape.first(&[Role::Time, Role::Category], &y_numbers))?;
            let mut ys: Vec<usize> = y_numbers.iter().copied().filter(|&i| i != x).collect();
            if ys.len() < 4 {
                ys = shape.measures_except(&[x]);
            }
            if ys.len() < 4 {
                return None;
            }
            ys.truncate(4);
            shape.spec(T::Candlestick, Some(x), &ys, None)
        }
        T::Map => {
            let named = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| shape.find(n))
                    .filter(|i| numeric(i))
            };
            let lon = x
                .filter(numeric)
                .or_else(|| named(&["lon", "lng", "longitude", "long"]))?;
            let lat = y_numbers
                .first()
                .copied()
                .filter(|&i| i != lon)
                .or_else(|| named(&["lat", "latitude"]))?;
            let size = y_numbers
                .iter()
                .copied()
                .find(|&i| i != lon && i != lat)
                .or_else(|| shape.measures_except(&[lon, lat]).first().copied());
            let label = series
                .filter(|&s| s != lon && s != lat)
                .or_else(|| shape.first(&[Role::Category, Role::Other], &[lon, lat]));
            let ys: Vec<usize> = std::iter::once(lat).chain(size).collect();
            shape.spec(T::Map, Some(lon), &ys, label)
        }
        _ => return None,
    };
    Some(spec)
}
