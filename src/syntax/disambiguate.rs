//! A small token-rewriting pass between the lexer and the LR(1) parser.
//!
//! Flow's surface syntax has three places where an LR(1) parser cannot
//! decide with one token of lookahead; this pass decides them by looking
//! further ahead and inserts (or substitutes) a marker token:
//!
//! - `DeclMark` before a statement-level declaration `Type name = ...;`
//!   (is `Order[] xs` a declaration or `Order[...]` an index?);
//! - `ArrowParen` for a `(` that opens arrow-function parameters
//!   (`(a, b) => a + b`);
//! - `ArmArrow` for the `=>` that ends a match-arm head (so that a guard
//!   `if ok =>` is not read as an arrow function `ok => ...`).

use super::lexer::{Spanned, Tok};

#[derive(Clone, Copy, PartialEq)]
enum Frame {
    MatchBody { in_head: bool },
    Other,
}

/// Rewrites `toks`, inserting marker tokens. `module_level` says whether the
/// first token is at a statement/item start (false for template holes).
pub fn disambiguate<'a>(toks: Vec<Spanned<'a>>, module_level: bool) -> Vec<Spanned<'a>> {
    let closers = matching_closers(&toks);
    let match_bodies = find_match_bodies(&toks, &closers);
    let mut out = Vec::with_capacity(toks.len() + toks.len() / 8);
    let mut stack: Vec<Frame> = Vec::new();
    let mut stmt_start = module_level;
    let mut i = 0;
    while i < toks.len() {
        let (l, ref tok, r) = toks[i];
        let in_match_head = matches!(stack.last(), Some(Frame::MatchBody { in_head: true }));
        if stmt_start
            && !matches!(stack.last(), Some(Frame::MatchBody { .. }))
            && is_declaration(&toks, i)
        {
            out.push((l, Tok::DeclMark, l));
        }
        let mut emitted = tok.clone();
        stmt_start = false;
        match tok {
            Tok::LBrace => {
                if match_bodies.contains(&i) {
                    stack.push(Frame::MatchBody { in_head: true });
                } else {
                    stack.push(Frame::Other);
                    stmt_start = true;
                }
            }
            Tok::RBrace => {
                stack.pop();
                match stack.last_mut() {
                    Some(Frame::MatchBody { in_head }) => *in_head = true,
                    _ => stmt_start = true,
                }
            }
            Tok::LParen => {
                let arrow = closers[i]
                    .and_then(|c| toks.get(c + 1))
                    .is_some_and(|t| t.1 == Tok::FatArrow);
                if arrow && !in_match_head {
                    emitted = Tok::ArrowParen;
                }
                stack.push(Frame::Other);
            }
            Tok::LBracket => stack.push(Frame::Other),
            Tok::RParen | Tok::RBracket => {
                stack.pop();
            }
            Tok::FatArrow if in_match_head => {
                emitted = Tok::ArmArrow;
                if let Some(Frame::MatchBody { in_head }) = stack.last_mut() {
                    *in_head = false;
                }
            }
            Tok::Semi | Tok::Public => stmt_start = true,
            Tok::At => {
                // `@name` annotation: the item follows it.
                if let Some((_, Tok::Ident(_), _)) = toks.get(i + 1) {
                    out.push((l, emitted, r));
                    out.push(toks[i + 1].clone());
                    i += 2;
                    stmt_start = true;
                    continue;
                }
            }
            _ => {}
        }
        out.push((l, emitted, r));
        i += 1;
    }
    out
}

/// For each opening bracket, the index of its matching closer (if any).
fn matching_closers(toks: &[Spanned<'_>]) -> Vec<Option<usize>> {
    let mut res = vec![None; toks.len()];
    let mut stack: Vec<(usize, &Tok<'_>)> = Vec::new();
    for (i, (_, t, _)) in toks.iter().enumerate() {
        match t {
            Tok::LParen | Tok::LBracket | Tok::LBrace => stack.push((i, t)),
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                let want = match t {
                    Tok::RParen => Tok::LParen,
                    Tok::RBracket => Tok::LBracket,
                    _ => Tok::LBrace,
                };
                // Pop to the nearest matching opener (tolerates stray closers).
                if let Some(pos) = stack.iter().rposition(|(_, o)| **o == want) {
                    let (open, _) = stack[pos];
                    stack.truncate(pos);
                    res[open] = Some(i);
                }
            }
            _ => {}
        }
    }
    res
}

/// Indices of the `{` tokens that open `match` bodies.
fn find_match_bodies(toks: &[Spanned<'_>], closers: &[Option<usize>]) -> Vec<usize> {
    let mut bodies = Vec::new();
    for (i, (_, t, _)) in toks.iter().enumerate() {
        if *t != Tok::Match {
            continue;
        }
        let mut j = i + 1;
        while j < toks.len() {
            match toks[j].1 {
                Tok::LBrace => {
                    bodies.push(j);
                    break;
                }
                Tok::LParen | Tok::LBracket => match closers[j] {
                    Some(c) => j = c + 1,
                    None => break,
                },
                Tok::Semi | Tok::RBrace => break,
                _ => j += 1,
            }
        }
    }
    bodies
}

/// Whether `toks[i..]` starts with `Type name` followed by `=` or `;`.
fn is_declaration(toks: &[Spanned<'_>], i: usize) -> bool {
    let Some(j) = match_type(toks, i) else {
        return false;
    };
    matches!(toks.get(j), Some((_, Tok::Ident(_), _)))
        && matches!(toks.get(j + 1), Some((_, Tok::Assign | Tok::Semi, _)))
}

/// Matches a type starting at `i`; returns the index just after it.
fn match_type(toks: &[Spanned<'_>], i: usize) -> Option<usize> {
    let mut j = match_postfix(toks, i)?;
    while matches!(toks.get(j), Some((_, Tok::Pipe, _))) {
        j = match_postfix(toks, j + 1)?;
    }
    Some(j)
}

fn match_postfix(toks: &[Spanned<'_>], i: usize) -> Option<usize> {
    let mut j = match_atom(toks, i)?;
    loop {
        match (toks.get(j).map(|t| &t.1), toks.get(j + 1).map(|t| &t.1)) {
            (Some(Tok::LBracket), Some(Tok::RBracket)) => j += 2,
            (Some(Tok::Question), _) => j += 1,
            _ => return Some(j),
        }
    }
}

fn match_atom(toks: &[Spanned<'_>], i: usize) -> Option<usize> {
    let t = &toks.get(i)?.1;
    match t {
        Tok::Ident(_)
        | Tok::QualIdent(_)
        | Tok::Error
        | Tok::TInt
        | Tok::TFloat
        | Tok::TBoolean
        | Tok::TString
        | Tok::TJson
        | Tok::TAny
        | Tok::TDuration
        | Tok::TTypedesc => Some(i + 1),
        Tok::LParen => {
            if matches!(toks.get(i + 1), Some((_, Tok::RParen, _))) {
                return Some(i + 2);
            }
            let j = match_type(toks, i + 1)?;
            matches!(toks.get(j), Some((_, Tok::RParen, _))).then_some(j + 1)
        }
        Tok::TMap | Tok::TFuture => {
            if !matches!(toks.get(i + 1), Some((_, Tok::Lt, _))) {
                return None;
            }
            let j = match_type(toks, i + 2)?;
            matches!(toks.get(j), Some((_, Tok::Gt, _))).then_some(j + 1)
        }
        Tok::Record => {
            if !matches!(toks.get(i + 1), Some((_, Tok::LBrace, _))) {
                return None;
            }
            skip_balanced(toks, i + 1)
        }
        Tok::Function => {
            if !matches!(toks.get(i + 1), Some((_, Tok::LParen, _))) {
                return None;
            }
            let j = skip_balanced(toks, i + 1)?;
            if matches!(toks.get(j), Some((_, Tok::Returns, _))) {
                match_atom(toks, j + 1)
            } else {
                Some(j)
            }
        }
        _ => None,
    }
}

/// Skips a balanced bracket group starting at the opener `toks[i]`.
fn skip_balanced(toks: &[Spanned<'_>], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, (_, t, _)) in toks.iter().enumerate().skip(i) {
        match t {
            Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::lexer::tokenize;

    fn marked(src: &str) -> Vec<Tok<'_>> {
        disambiguate(tokenize(src, 0).0, true)
            .into_iter()
            .map(|t| t.1)
            .collect()
    }

    #[test]
    fn declarations_are_marked() {
        let t = marked("function f() { Order[] xs = []; xs[0] = 1; int? y; }");
        assert_eq!(t.iter().filter(|t| **t == Tok::DeclMark).count(), 2);
    }

    #[test]
    fn arrows_and_arms() {
        let t = marked("function f() { match x { 1 if ok => { g((a, b) => a); } } }");
        assert!(t.contains(&Tok::ArmArrow));
        assert!(t.contains(&Tok::ArrowParen));
        assert!(t.contains(&Tok::FatArrow));
    }
}
