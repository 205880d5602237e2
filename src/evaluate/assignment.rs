//! Maximum-weight bipartite matching on a sparse graph (a one-to-one assignment that need
//! not cover every node), used for IDF1's identity assignment and for pairing predicted with
//! true voyages.
//!
//! Method: the Hungarian method in its shortest-augmenting-path form (Jonker–Volgenant
//! style) with Dijkstra over the edges only. Each left node `i` gets a private dummy right
//! node meaning "unmatched"; costs are `W - w` for a real edge and `W` for the dummy
//! (`W` = the largest weight), so a minimum-cost perfect assignment of the left nodes is a
//! maximum-weight matching. Node potentials keep reduced costs non-negative. Exact, in
//! integers; time about O(L · E log V) in the worst case and far less on the sparse,
//! nearly block-diagonal graphs of tracking results.
//!
//! ```
//! use shiplink::evaluate::assignment::max_weight_matching;
//! // Left 0 likes right 0 (5) and right 1 (4); left 1 only right 0 (3).
//! let (total, pairs) = max_weight_matching(2, 2, &[(0, 0, 5), (0, 1, 4), (1, 0, 3)]);
//! assert_eq!(total, 7);
//! assert_eq!(pairs, vec![(0, 1), (1, 0)]);
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Best one-to-one matching of `edges` `(left, right, weight)`; edges with a weight of 0 or
/// less, or an index out of range, are ignored. Returns the total weight and the matched
/// pairs sorted by left index.
pub fn max_weight_matching(
    n_left: usize,
    n_right: usize,
    edges: &[(usize, usize, i64)],
) -> (i64, Vec<(usize, usize)>) {
    let usable: Vec<&(usize, usize, i64)> = edges
        .iter()
        .filter(|(l, r, w)| *w > 0 && *l < n_left && *r < n_right)
        .collect();
    let big_w = usable.iter().map(|e| e.2).max().unwrap_or(0);
    if big_w == 0 {
        return (0, Vec::new());
    }
    // Adjacency with costs; right nodes n_right.. are the dummies (n_right + left).
    let mut adj: Vec<Vec<(usize, i64)>> = vec![Vec::new(); n_left];
    for &&(l, r, w) in &usable {
        adj[l].push((r, big_w - w));
    }
    for (l, a) in adj.iter_mut().enumerate() {
        a.push((n_right + l, big_w));
    }
    let n_total = n_right + n_left;
    let mut u = vec![0i64; n_left];
    let mut v = vec![0i64; n_total];
    let mut match_r: Vec<Option<usize>> = vec![None; n_total];
    let mut match_l: Vec<usize> = vec![usize::MAX; n_left];
    let mut dist = vec![0i64; n_total];
    let mut seen = vec![u32::MAX; n_total];
    let mut done = vec![u32::MAX; n_total];
    let mut prev = vec![0usize; n_total];
    let mut scanned: Vec<usize> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();

    for i0 in 0..n_left {
        let epoch = i0 as u32;
        scanned.clear();
        heap.clear();
        let relax = |from: usize,
                     base: i64,
                     dist: &mut [i64],
                     seen: &mut [u32],
                     done: &[u32],
                     prev: &mut [usize],
                     heap: &mut BinaryHeap<Reverse<(i64, usize)>>,
                     u: &[i64],
                     v: &[i64]| {
            for &(j, c) in &adj[from] {
                if done[j] == epoch {
                    continue;
                }
                let nd = base + c - u[from] - v[j];
                if seen[j] != epoch || nd < dist[j] {
                    seen[j] = epoch;
                    dist[j] = nd;
                    prev[j] = from;
                    heap.push(Reverse((nd, j)));
                }
            }
        };
        relax(
            i0, 0, &mut dist, &mut seen, &done, &mut prev, &mut heap, &u, &v,
        );
        let mut end = None;
        while let Some(Reverse((d, j))) = heap.pop() {
            if done[j] == epoch || d != dist[j] {
                continue;
            }
            done[j] = epoch;
            scanned.push(j);
            match match_r[j] {
                None => {
                    end = Some((j, d));
                    break;
                }
                Some(i) => relax(
                    i, d, &mut dist, &mut seen, &done, &mut prev, &mut heap, &u, &v,
                ),
            }
        }
        // The private dummy is always reachable, so `end` is always set.
        let Some((j_end, d_end)) = end else { continue };
        for &j in &scanned {
            let delta = d_end - dist[j];
            v[j] -= delta;
            if let Some(i) = match_r[j] {
                u[i] += delta;
            }
        }
        u[i0] += d_end;
        let mut j = j_end;
        loop {
            let i = prev[j];
            let next = match_l[i];
            match_r[j] = Some(i);
            match_l[i] = j;
            if i == i0 {
                break;
            }
            j = next;
        }
    }
    let mut weight_of = std::collections::BTreeMap::new();
    for &&(l, r, w) in &usable {
        let e = weight_of.entry((l, r)).or_insert(w);
        *e = (*e).max(w);
    }
    let mut total = 0;
    let mut pairs = Vec::new();
    for (l, &r) in match_l.iter().enumerate() {
        if r < n_right {
            total += weight_of.get(&(l, r)).copied().unwrap_or(0);
            pairs.push((l, r));
        }
    }
    (total, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Exhaustive maximum over all matchings (small graphs only).
    fn brute(n_left: usize, n_right: usize, edges: &[(usize, usize, i64)]) -> i64 {
        let mut w = vec![vec![0i64; n_right]; n_left];
        for &(l, r, x) in edges {
            if x > 0 {
                w[l][r] = w[l][r].max(x);
            }
        }
        fn go(l: usize, used: u32, w: &[Vec<i64>]) -> i64 {
            if l == w.len() {
                return 0;
            }
            let mut best = go(l + 1, used, w);
            for r in 0..w[l].len() {
                if used & (1 << r) == 0 && w[l][r] > 0 {
                    best = best.max(w[l][r] + go(l + 1, used | (1 << r), w));
                }
            }
            best
        }
        go(0, 0, &w)
    }

    #[test]
    fn empty_and_degenerate() {
        assert_eq!(max_weight_matching(0, 0, &[]), (0, vec![]));
        assert_eq!(max_weight_matching(3, 2, &[]), (0, vec![]));
        assert_eq!(
            max_weight_matching(1, 1, &[(0, 0, 0), (0, 0, -3)]),
            (0, vec![])
        );
        assert_eq!(
            max_weight_matching(1, 1, &[(0, 5, 9)]),
            (0, vec![]),
            "out of range"
        );
        assert_eq!(max_weight_matching(1, 1, &[(0, 0, 4)]), (4, vec![(0, 0)]));
    }

    #[test]
    fn prefers_total_weight_over_greedy() {
        // Greedy takes (0,0)=10 and then nothing; the optimum is 9 + 9.
        let (t, p) = max_weight_matching(2, 2, &[(0, 0, 10), (0, 1, 9), (1, 0, 9)]);
        assert_eq!(t, 18);
        assert_eq!(p, vec![(0, 1), (1, 0)]);
        // Leaving a node unmatched can be best.
        let (t, _) = max_weight_matching(2, 1, &[(0, 0, 5), (1, 0, 7)]);
        assert_eq!(t, 7);
    }

    #[test]
    fn matches_brute_force_on_random_graphs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        for _ in 0..400 {
            let nl = rng.gen_range(1..7);
            let nr = rng.gen_range(1..7);
            let m = rng.gen_range(0..nl * nr + 1);
            let edges: Vec<(usize, usize, i64)> = (0..m)
                .map(|_| {
                    (
                        rng.gen_range(0..nl),
                        rng.gen_range(0..nr),
                        rng.gen_range(1..20),
                    )
                })
                .collect();
            let (t, pairs) = max_weight_matching(nl, nr, &edges);
            assert_eq!(t, brute(nl, nr, &edges), "{edges:?}");
            let mut rs: Vec<usize> = pairs.iter().map(|p| p.1).collect();
            rs.sort();
            rs.dedup();
            assert_eq!(rs.len(), pairs.len(), "one-to-one");
        }
    }
}
