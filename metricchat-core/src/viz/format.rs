//! Numbers as chart text: short decimals and thousands separators.

/// A number with up to 2 decimals (more for small magnitudes), trailing zeros dropped.
pub(super) fn short_number(value: f64) -> String {
    let mut precision = 2_usize;
    let mut magnitude = value.abs();
    while magnitude > 0.0 && magnitude < 1.0 && precision < 10 {
        magnitude *= 10.0;
        precision += 1;
    }
    let text = format!("{value:.precision$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// [`short_number`] with thousands separators.
pub(super) fn group_number(value: f64) -> String {
    group_digits(&short_number(value))
}

/// Adds `,` between thousands of the integer part of a decimal string.
pub(super) fn group_digits(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (rest, None),
    };
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return text.to_owned();
    }
    let mut grouped = String::with_capacity(text.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}
