//! String operations of PQL: `like` patterns (`%` any run, `_` one character) and the
//! case-sensitive or case-insensitive tests behind `equals`, `contains`, `startsWith`, `endsWith`.

use crate::ir::StrOp;

/// One element of a `like` pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LikeTok {
    /// A literal character.
    Char(char),
    /// `_`: exactly one character.
    One,
    /// `%`: any run of characters, possibly empty.
    Many,
}

/// Splits a `like` pattern into its elements (runs of `%` collapse into one).
pub(crate) fn like_pattern(p: &str) -> Vec<LikeTok> {
    let mut out = Vec::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '%' if out.last() == Some(&LikeTok::Many) => {}
            '%' => out.push(LikeTok::Many),
            '_' => out.push(LikeTok::One),
            c => out.push(LikeTok::Char(c)),
        }
    }
    out
}

/// Whether `s` matches the whole pattern (case-sensitive), without allocating: a greedy match
/// that backtracks to the last `%` on a mismatch.
pub(crate) fn like_match(p: &[LikeTok], s: &str) -> bool {
    let next = |i: usize| s[i..].chars().next();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                LikeTok::Many => {
                    pi += 1;
                    star = Some((pi, si));
                    continue;
                }
                LikeTok::One => {
                    if let Some(c) = next(si) {
                        pi += 1;
                        si += c.len_utf8();
                        continue;
                    }
                }
                LikeTok::Char(want) => {
                    if let Some(c) = next(si) {
                        if c == want {
                            pi += 1;
                            si += c.len_utf8();
                            continue;
                        }
                    }
                }
            }
        } else if si == s.len() {
            return true;
        }
        match star {
            Some((sp, ss)) => match next(ss) {
                Some(c) => {
                    let ss = ss + c.len_utf8();
                    star = Some((sp, ss));
                    pi = sp;
                    si = ss;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

/// `subject op arg`, comparing case-insensitively when asked (ASCII without allocating,
/// otherwise by Unicode lower case).
pub(crate) fn str_test(op: StrOp, subject: &str, arg: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        return match op {
            StrOp::Equals => subject == arg,
            StrOp::Contains => subject.contains(arg),
            StrOp::StartsWith => subject.starts_with(arg),
            StrOp::EndsWith => subject.ends_with(arg),
        };
    }
    if subject.is_ascii() && arg.is_ascii() {
        let (s, a) = (subject.as_bytes(), arg.as_bytes());
        return match op {
            StrOp::Equals => s.eq_ignore_ascii_case(a),
            StrOp::StartsWith => s.len() >= a.len() && s[..a.len()].eq_ignore_ascii_case(a),
            StrOp::EndsWith => s.len() >= a.len() && s[s.len() - a.len()..].eq_ignore_ascii_case(a),
            StrOp::Contains => {
                a.is_empty() || s.windows(a.len()).any(|w| w.eq_ignore_ascii_case(a))
            }
        };
    }
    str_test(op, &subject.to_lowercase(), &arg.to_lowercase(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(p: &str, s: &str) -> bool {
        like_match(&like_pattern(p), s)
    }

    #[test]
    fn like_patterns() {
        assert!(like("%es%", "Jessica"));
        assert!(!like("%es%", "John"));
        assert!(like("J_hn", "John"));
        assert!(!like("J_hn", "Joohn"));
        assert!(like("%", ""));
        assert!(like("a%b%c", "aXXbYYc"));
        assert!(!like("a%b%c", "aXXbYY"));
        assert!(like("_é_", "déf"));
        assert!(like("%%a", "ba"));
        assert!(!like("", "a"));
    }

    #[test]
    fn case_insensitive() {
        assert!(str_test(StrOp::Equals, "JOHN", "john", false));
        assert!(!str_test(StrOp::Equals, "JOHN", "john", true));
        assert!(str_test(StrOp::Contains, "Ümlaut", "üml", false));
        assert!(str_test(StrOp::EndsWith, "Smith", "ITH", false));
        assert!(str_test(StrOp::Contains, "abc", "", false));
    }
}
