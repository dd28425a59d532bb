//! Reading the search index without holding all of a term's matches: a [`Matches`] stream
//! merges the matches of several terms (and of single entries found by index or leaf hash) in
//! index order, newest or oldest first, without duplicates, reading each term a chunk at a
//! time through [`Storage::search`]. A popular identity (a CI workflow) may have millions of
//! entries; a request built on these streams holds at most one chunk per term.
//!
//! The explorer pages through every match with a keyset cursor ([`crate::explorer`]); the
//! Rekor v1 `POST /api/v1/index/retrieve` unions or intersects ([`intersect`]) criteria and
//! stops at its answer limit ([`crate::v1::MAX_INDEX_RESULTS`]).

use crate::LogError;
use crate::storage::Storage;
use std::collections::VecDeque;
use std::ops::Range;

/// Matches read from the store per term and round trip.
pub const CHUNK: usize = 512;

/// One sorted source of matches: a search term read a chunk at a time, or a fixed list.
struct Source {
    /// The term, or `None` for a fixed list (already complete in `buf`).
    term: Option<String>,
    /// Not read yet: the part of the range beyond everything in `buf`.
    rest: Range<u64>,
    buf: VecDeque<u64>,
    /// The store has nothing more in `rest`.
    done: bool,
}

/// A stream of entry indexes matching any of several search terms (or fixed indexes), in
/// index order, each once.
pub struct Matches<'a, S: Storage> {
    storage: &'a S,
    newest_first: bool,
    sources: Vec<Source>,
}

impl<'a, S: Storage> Matches<'a, S> {
    /// The matches of `terms` and of the fixed `indexes` within `range`, newest (highest
    /// index) first when `newest_first`, else oldest first.
    pub fn new(
        storage: &'a S,
        terms: &[String],
        indexes: &[u64],
        range: Range<u64>,
        newest_first: bool,
    ) -> Self {
        let mut sources: Vec<Source> = terms
            .iter()
            .map(|t| Source {
                term: Some(t.clone()),
                rest: range.clone(),
                buf: VecDeque::new(),
                done: range.is_empty(),
            })
            .collect();
        let mut fixed: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|i| range.contains(i))
            .collect();
        fixed.sort_unstable();
        fixed.dedup();
        if newest_first {
            fixed.reverse();
        }
        if !fixed.is_empty() {
            sources.push(Source {
                term: None,
                rest: range.start..range.start,
                buf: fixed.into(),
                done: true,
            });
        }
        Self {
            storage,
            newest_first,
            sources,
        }
    }

    /// Whether `a` comes before `b` in this stream's order.
    fn before(&self, a: u64, b: u64) -> bool {
        if self.newest_first { a > b } else { a < b }
    }

    /// Make sure source `i` has a buffered head unless it is exhausted.
    fn fill(&mut self, i: usize) -> Result<(), LogError> {
        let newest_first = self.newest_first;
        let src = &mut self.sources[i];
        if !src.buf.is_empty() || src.done {
            return Ok(());
        }
        let Some(term) = &src.term else {
            return Ok(());
        };
        let got = self
            .storage
            .search(term, src.rest.clone(), newest_first, CHUNK)?;
        if got.len() < CHUNK {
            src.done = true;
        }
        if let Some(&last) = got.last() {
            // Narrow the range past what was read (each chunk is in stream order).
            if newest_first {
                src.rest.end = last.min(src.rest.end);
            } else {
                src.rest.start = last.saturating_add(1).max(src.rest.start);
            }
        }
        if got.is_empty() || src.rest.is_empty() {
            src.done = true;
        }
        src.buf.extend(got);
        Ok(())
    }

    /// The next match, without consuming it.
    pub fn peek(&mut self) -> Result<Option<u64>, LogError> {
        let mut best: Option<u64> = None;
        for i in 0..self.sources.len() {
            self.fill(i)?;
            if let Some(&h) = self.sources[i].buf.front()
                && best.is_none_or(|b| self.before(h, b))
            {
                best = Some(h);
            }
        }
        Ok(best)
    }

    /// The next match.
    pub fn next_match(&mut self) -> Result<Option<u64>, LogError> {
        let Some(best) = self.peek()? else {
            return Ok(None);
        };
        for s in &mut self.sources {
            if s.buf.front() == Some(&best) {
                s.buf.pop_front();
            }
        }
        Ok(Some(best))
    }

    /// Skip to the first match at or past `target` in stream order (at or below it newest
    /// first, at or above it oldest first); later reads start there instead of scanning.
    pub fn seek(&mut self, target: u64) -> Result<(), LogError> {
        let newest_first = self.newest_first;
        for s in &mut self.sources {
            while let Some(&h) = s.buf.front() {
                let past = if newest_first { h > target } else { h < target };
                if !past {
                    break;
                }
                s.buf.pop_front();
            }
            if s.buf.is_empty() && !s.done {
                if newest_first {
                    s.rest.end = s.rest.end.min(target.saturating_add(1));
                } else {
                    s.rest.start = s.rest.start.max(target);
                }
                if s.rest.is_empty() {
                    s.done = true;
                }
            }
        }
        Ok(())
    }

    /// Up to `n` matches.
    pub fn take(&mut self, n: usize) -> Result<Vec<u64>, LogError> {
        let mut out = Vec::with_capacity(n.min(CHUNK));
        while out.len() < n {
            match self.next_match()? {
                Some(i) => out.push(i),
                None => break,
            }
        }
        Ok(out)
    }

    /// Count the remaining matches, stopping at `limit`: `(count, exact)`, where `exact` is
    /// false when there are more than `limit`.
    pub fn count_up_to(&mut self, limit: usize) -> Result<(usize, bool), LogError> {
        let mut n = 0;
        while self.next_match()?.is_some() {
            if n == limit {
                return Ok((n, false));
            }
            n += 1;
        }
        Ok((n, true))
    }
}

/// The entries every stream matches (each stream one criterion), in the streams' common order,
/// at most `limit`: a leapfrog join that seeks each stream to the current candidate, so a
/// small criterion intersected with a huge one reads little of the huge one.
pub fn intersect<S: Storage>(
    streams: &mut [Matches<'_, S>],
    limit: usize,
) -> Result<Vec<u64>, LogError> {
    let mut out = Vec::new();
    if streams.is_empty() {
        return Ok(out);
    }
    'outer: while out.len() < limit {
        let Some(mut candidate) = streams[0].peek()? else {
            break;
        };
        loop {
            let mut agreed = true;
            for s in streams.iter_mut() {
                s.seek(candidate)?;
                let Some(h) = s.peek()? else {
                    break 'outer;
                };
                if h != candidate {
                    // `h` is past the candidate: it becomes the new candidate.
                    candidate = h;
                    agreed = false;
                }
            }
            if agreed {
                break;
            }
        }
        out.push(candidate);
        for s in streams.iter_mut() {
            s.next_match()?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{CommitBatch, EmbeddedStorage, EntryRecord, StoredCheckpoint};

    /// A store whose entry `i < n` has the terms `keys(i)`.
    fn store(n: u64, keys: impl Fn(u64) -> Vec<String>) -> (tempfile::TempDir, EmbeddedStorage) {
        let dir = tempfile::tempdir().unwrap();
        let s = EmbeddedStorage::open(dir.path()).unwrap();
        let entries = (0..n)
            .map(|i| {
                let mut leaf_hash = [0; 32];
                leaf_hash[..8].copy_from_slice(&i.to_be_bytes());
                EntryRecord {
                    leaf_hash,
                    integrated_time: 0,
                    search_keys: keys(i),
                }
            })
            .collect();
        s.commit(&CommitBatch {
            first_index: 0,
            entries,
            tiles: vec![],
            entry_bundles: vec![],
            checkpoint: StoredCheckpoint {
                size: n,
                root: [0; 32],
                note: String::new(),
            },
        })
        .unwrap();
        (dir, s)
    }

    fn terms(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn union_pages_and_counts() {
        // "a": every entry; "b": every 3rd; "c": every 1000th. Far more than one chunk.
        let n = 5000;
        let (_d, s) = store(n, |i| {
            let mut k = vec!["a".to_string()];
            if i % 3 == 0 {
                k.push("b".into());
            }
            if i % 1000 == 0 {
                k.push("c".into());
            }
            k
        });
        // Overlapping terms are merged without duplicates, newest first.
        let mut m = Matches::new(&s, &terms(&["b", "a"]), &[], 0..n, true);
        assert_eq!(m.take(3).unwrap(), vec![4999, 4998, 4997]);
        let rest = m.take(usize::MAX).unwrap();
        assert_eq!(rest.len(), 4997);
        assert_eq!(rest.first(), Some(&4996));
        assert_eq!(rest.last(), Some(&0));
        // Oldest first within a range, fixed indexes merged in.
        let mut m = Matches::new(&s, &terms(&["c"]), &[2500, 7, 99_999], 10..n, false);
        assert_eq!(m.take(10).unwrap(), vec![1000, 2000, 2500, 3000, 4000]);
        // Counting stops at its limit.
        let mut m = Matches::new(&s, &terms(&["b"]), &[], 0..n, true);
        assert_eq!(m.count_up_to(10_000).unwrap(), (1667, true));
        let mut m = Matches::new(&s, &terms(&["b"]), &[], 0..n, true);
        assert_eq!(m.count_up_to(1000).unwrap(), (1000, false));
        let mut m = Matches::new(&s, &terms(&["b"]), &[], 0..n, true);
        assert_eq!(m.count_up_to(1667).unwrap(), (1667, true));
        // A term nobody has.
        let mut m = Matches::new(&s, &terms(&["zz"]), &[], 0..n, true);
        assert_eq!(m.peek().unwrap(), None);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn intersections_seek() {
        let n = 5000;
        let (_d, s) = store(n, |i| {
            let mut k = vec!["a".to_string()];
            if i % 7 == 0 {
                k.push("b".into());
            }
            if i % 1001 == 0 {
                k.push("c".into());
            }
            k
        });
        for newest_first in [false, true] {
            let mut streams = vec![
                Matches::new(&s, &terms(&["a"]), &[], 0..n, newest_first),
                Matches::new(&s, &terms(&["b"]), &[], 0..n, newest_first),
                Matches::new(&s, &terms(&["c"]), &[], 0..n, newest_first),
            ];
            // 1001 = 7 × 143: every multiple of 1001 has all three terms.
            let mut want: Vec<u64> = (0..n).filter(|i| i % 1001 == 0).collect();
            if newest_first {
                want.reverse();
            }
            assert_eq!(intersect(&mut streams, 100).unwrap(), want);
        }
        let mut streams = vec![
            Matches::new(&s, &terms(&["a"]), &[], 0..n, false),
            Matches::new(&s, &terms(&["b"]), &[], 0..n, false),
        ];
        assert_eq!(intersect(&mut streams, 3).unwrap(), vec![0, 7, 14]);
        let mut streams = vec![
            Matches::new(&s, &terms(&["a"]), &[], 0..n, false),
            Matches::new(&s, &terms(&["nobody"]), &[], 0..n, false),
        ];
        assert_eq!(intersect(&mut streams, 3).unwrap(), Vec::<u64>::new());
    }
}
