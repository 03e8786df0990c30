//! The date-conversion toy task (the TensorFlow.js date-conversion example's task): a date
//! between 1950-01-01 and 2049-12-31 written in one of several human formats becomes its ISO
//! form, `20jan2019` → `2019-01-20`. Every format is unambiguous (its separators say which
//! number is the day), and none holds a space, since a toy task's tokens are its characters.

/// The first and last years a date may have (a two-digit year `yy` means 19yy from 50 on).
pub const YEARS: (i64, i64) = (1950, 2049);
/// How many formats a date is written in.
pub const FORMATS: usize = 6;
/// The longest source and target, in characters.
pub const LONGEST: usize = 10;

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// The number of days from 1950-01-01 to 2049-12-31 inclusive.
pub fn days() -> u64 {
    (days_from_civil(YEARS.1 + 1, 1, 1) - days_from_civil(YEARS.0, 1, 1)) as u64
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `n` days after 1950-01-01: (year, month, day).
pub fn date(n: u64) -> (i64, u32, u32) {
    let z = days_from_civil(YEARS.0, 1, 1) + n as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A date in format `f` (0 … FORMATS − 1): `01/20/2019`, `20.01.2019`, `20jan2019`,
/// `jan20,2019`, `20190120`, `20.1.19`.
pub fn write(f: usize, (y, m, d): (i64, u32, u32)) -> String {
    let month = MONTHS[m as usize - 1];
    match f % FORMATS {
        0 => format!("{m:02}/{d:02}/{y}"),
        1 => format!("{d:02}.{m:02}.{y}"),
        2 => format!("{d}{month}{y}"),
        3 => format!("{month}{d},{y}"),
        4 => format!("{y}{m:02}{d:02}"),
        _ => format!("{d}.{m}.{:02}", y % 100),
    }
}

/// The ISO form of a date written by [`write`]; `None` for anything else.
pub fn iso(source: &str) -> Option<String> {
    let number = |s: &str| s.parse::<u32>().ok();
    let month_named = |s: &str| MONTHS.iter().position(|m| *m == s).map(|i| i as u32 + 1);
    let (y, m, d): (i64, u32, u32) = if let Some((m, rest)) = source.split_once('/') {
        let (d, y) = rest.split_once('/')?;
        (i64::from(number(y)?), number(m)?, number(d)?)
    } else if source.contains('.') {
        let parts: Vec<&str> = source.split('.').collect();
        let [d, m, y] = parts[..] else { return None };
        let y = i64::from(number(y)?);
        let y = match y {
            0..=49 => 2000 + y,
            50..=99 => 1900 + y,
            _ => y,
        };
        (y, number(m)?, number(d)?)
    } else if let Some((md, y)) = source.split_once(',') {
        let (m, d) = md.split_at(3.min(md.len()));
        (i64::from(number(y)?), month_named(m)?, number(d)?)
    } else if source.len() == 8 && source.bytes().all(|b| b.is_ascii_digit()) {
        (i64::from(number(&source[..4])?), number(&source[4..6])?, number(&source[6..])?)
    } else {
        let letters = source.find(|c: char| c.is_ascii_alphabetic())?;
        let (d, rest) = source.split_at(letters);
        let (m, y) = rest.split_at(3.min(rest.len()));
        (i64::from(number(y)?), month_named(m)?, number(d)?)
    };
    let valid = (YEARS.0..=YEARS.1).contains(&y) && (1..=12).contains(&m) && d >= 1 && date_exists(y, m, d);
    valid.then(|| format!("{y}-{m:02}-{d:02}"))
}

fn date_exists(y: i64, m: u32, d: u32) -> bool {
    let n = days_from_civil(y, m, d) - days_from_civil(YEARS.0, 1, 1);
    n >= 0 && date(n as u64) == (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_of_every_date_converts_back_to_it() {
        assert_eq!(days(), 36_525);
        assert_eq!(date(0), (1950, 1, 1));
        assert_eq!(date(days() - 1), (2049, 12, 31));
        let shown: Vec<String> = (0..FORMATS).map(|f| write(f, (2019, 1, 20))).collect();
        assert_eq!(shown, ["01/20/2019", "20.01.2019", "20jan2019", "jan20,2019", "20190120", "20.1.19"]);
        for n in 0..days() {
            let (y, m, d) = date(n);
            let want = format!("{y}-{m:02}-{d:02}");
            for f in 0..FORMATS {
                let source = write(f, (y, m, d));
                assert!(source.len() <= LONGEST && !source.contains(' '), "{source}");
                assert_eq!(iso(&source).as_deref(), Some(want.as_str()), "{source}");
            }
        }
        for bad in ["", "31.02.2019", "13/01/2019", "20xyz2019", "2019", "01/20/1900"] {
            assert_eq!(iso(bad), None, "{bad}");
        }
    }
}
