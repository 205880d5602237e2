//! Maximum-weight matching of a sparse "successor" graph: each node gets at most one
//! successor and at most one predecessor, maximising the total weight of the chosen edges.
//!
//! This is a rectangular linear assignment problem: rows are nodes as predecessors,
//! columns are nodes as successors plus one private "no successor" column per row at
//! cost 0, and an edge of weight `w > 0` is a cell of cost `-w`. It is solved exactly by
//! the shortest-augmenting-path method of Crouse (2016) — the algorithm behind SciPy's
//! `linear_sum_assignment` — run sparsely: each row's Dijkstra search stops at the first
//! free column, and every row can always fall back to its private column, so searches stay
//! local and the cost grows close to `O(E log V)` on the sparse, time-ordered graphs
//! shiplink builds. No crate offers a sparse, non-perfect assignment solver, so it is
//! written here (about 100 lines), and checked against brute force in the tests.
//!
//! # Example
//! ```
//! use shiplink::linking::assign::{max_weight_successors, Edge};
//! // 0 -> 1 (weight 2), 0 -> 2 (weight 3), 1 -> 2 (weight 2): best is 0->1, 1->2 (total 4).
//! let edges = [Edge { from: 0, to: 1, weight: 2.0 }, Edge { from: 0, to: 2, weight: 3.0 },
//!              Edge { from: 1, to: 2, weight: 2.0 }];
//! assert_eq!(max_weight_successors(3, &edges), vec![Some(1), Some(2), None]);
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate link `from -> to` with its weight (log-likelihood ratio; only `> 0` matter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub weight: f64,
}

#[derive(PartialEq)]
struct Item(f64, usize);
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on distance, ties by column for determinism.
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

/// Returns, for each of the `n` nodes, its chosen successor. Edges with non-positive or
/// non-finite weight, self-loops and out-of-range nodes are ignored. Deterministic.
pub fn max_weight_successors(n: usize, edges: &[Edge]) -> Vec<Option<usize>> {
    let good = |e: &&Edge| {
        e.from < n && e.to < n && e.from != e.to && e.weight.is_finite() && e.weight > 0.0
    };
    // Only nodes with a usable edge take part (in a large input most are lone detections):
    // rows and columns renumbered in order search and break ties exactly as all nodes would,
    // in memory for the edges rather than for every node.
    let ids = |end: fn(&Edge) -> usize| {
        let mut v: Vec<usize> = edges.iter().filter(good).map(end).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (rows, cols) = (ids(|e| e.from), ids(|e| e.to));
    let rank = |ids: &[usize], node: usize| ids.partition_point(|&k| k < node);
    let compact: Vec<Edge> = edges
        .iter()
        .filter(good)
        .map(|e| Edge {
            from: rank(&rows, e.from),
            to: rank(&cols, e.to),
            weight: e.weight,
        })
        .collect();
    let col4row = solve(rows.len(), cols.len(), &compact);
    let mut successor = vec![None; n];
    for (&row, &col) in rows.iter().zip(&col4row) {
        successor[row] = cols.get(col).copied();
    }
    successor
}

/// The assignment of `nrows` rows to `ncols` columns plus a private column per row (row
/// `i`'s is `ncols + i`) over `edges` (all usable): each row's column.
fn solve(nrows: usize, ncols: usize, edges: &[Edge]) -> Vec<usize> {
    // Adjacency (CSR): row -> (column, cost).
    let mut adj_start = vec![0usize; nrows + 1];
    for e in edges {
        adj_start[e.from + 1] += 1;
    }
    for i in 0..nrows {
        adj_start[i + 1] += adj_start[i] + 1; // +1 for the private column
    }
    let mut fill = adj_start.clone();
    let mut adj = vec![(0usize, 0.0f64); adj_start[nrows]];
    for i in 0..nrows {
        adj[fill[i]] = (ncols + i, 0.0);
        fill[i] += 1;
    }
    for e in edges {
        adj[fill[e.from]] = (e.to, -e.weight);
        fill[e.from] += 1;
    }

    let all_cols = ncols + nrows;
    let mut u = vec![0.0f64; nrows];
    let mut v = vec![0.0f64; all_cols];
    let mut col4row = vec![usize::MAX; nrows];
    let mut row4col = vec![usize::MAX; all_cols];
    let mut shortest = vec![f64::INFINITY; all_cols];
    let mut path = vec![usize::MAX; all_cols];
    let mut scanned_col = vec![false; all_cols];
    let mut touched: Vec<usize> = Vec::new();
    let mut scanned_rows: Vec<usize> = Vec::new();
    let mut scanned_cols: Vec<usize> = Vec::new();
    let mut heap = BinaryHeap::new();

    for cur_row in 0..nrows {
        let mut min_val = 0.0f64;
        let mut i = cur_row;
        let sink;
        loop {
            scanned_rows.push(i);
            for &(j, cost) in &adj[adj_start[i]..adj_start[i + 1]] {
                if scanned_col[j] {
                    continue;
                }
                let r = min_val + cost - u[i] - v[j];
                if r < shortest[j] {
                    if shortest[j].is_infinite() {
                        touched.push(j);
                    }
                    shortest[j] = r;
                    path[j] = i;
                    heap.push(Item(r, j));
                }
            }
            // Pop the nearest unscanned column (skip stale heap entries).
            let j = loop {
                match heap.pop() {
                    Some(Item(d, j)) if !scanned_col[j] && d == shortest[j] => break Some(j),
                    Some(_) => continue,
                    None => break None,
                }
            };
            // The private column of cur_row is always reachable, so j exists; without it the
            // row is simply left unassigned.
            let Some(j) = j else {
                sink = usize::MAX;
                break;
            };
            min_val = shortest[j];
            scanned_col[j] = true;
            scanned_cols.push(j);
            if row4col[j] == usize::MAX {
                sink = j;
                break;
            }
            i = row4col[j];
        }

        if sink != usize::MAX {
            // Dual updates.
            u[cur_row] += min_val;
            for &r in &scanned_rows {
                if r != cur_row {
                    u[r] += min_val - shortest[col4row[r]];
                }
            }
            for &c in &scanned_cols {
                v[c] -= min_val - shortest[c];
            }
            // Augment along the path.
            let mut j = sink;
            loop {
                let r = path[j];
                row4col[j] = r;
                std::mem::swap(&mut col4row[r], &mut j);
                if r == cur_row {
                    break;
                }
            }
        }
        // Reset the per-search state touched by this row.
        for &c in &touched {
            shortest[c] = f64::INFINITY;
            path[c] = usize::MAX;
        }
        for &c in &scanned_cols {
            scanned_col[c] = false;
            shortest[c] = f64::INFINITY;
        }
        touched.clear();
        scanned_cols.clear();
        scanned_rows.clear();
        heap.clear();
    }

    col4row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(edges: &[Edge], succ: &[Option<usize>]) -> f64 {
        succ.iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.map(|j| {
                    edges
                        .iter()
                        .filter(|e| e.from == i && e.to == j && e.weight > 0.0)
                        .map(|e| e.weight)
                        .fold(f64::NEG_INFINITY, f64::max)
                })
            })
            .sum()
    }

    fn check_valid(n: usize, succ: &[Option<usize>]) {
        let mut pred = vec![0; n];
        for s in succ.iter().flatten() {
            pred[*s] += 1;
        }
        assert!(pred.iter().all(|&p| p <= 1), "a node has two predecessors");
    }

    /// Brute force over all subsets of edges (small cases only).
    fn brute(n: usize, edges: &[Edge]) -> f64 {
        let es: Vec<&Edge> = edges
            .iter()
            .filter(|e| e.weight > 0.0 && e.from != e.to)
            .collect();
        let mut best = 0.0f64;
        for mask in 0u32..(1 << es.len()) {
            let mut outd = vec![false; n];
            let mut ind = vec![false; n];
            let mut w = 0.0;
            let mut ok = true;
            for (k, e) in es.iter().enumerate() {
                if mask & (1 << k) != 0 {
                    if outd[e.from] || ind[e.to] {
                        ok = false;
                        break;
                    }
                    outd[e.from] = true;
                    ind[e.to] = true;
                    w += e.weight;
                }
            }
            if ok {
                best = best.max(w);
            }
        }
        best
    }

    #[test]
    fn empty_and_single() {
        assert!(max_weight_successors(0, &[]).is_empty());
        assert_eq!(max_weight_successors(1, &[]), vec![None]);
        let e = [Edge {
            from: 0,
            to: 0,
            weight: 5.0,
        }];
        assert_eq!(
            max_weight_successors(1, &e),
            vec![None],
            "self-loop ignored"
        );
    }

    #[test]
    fn negative_and_nan_weights_are_never_used() {
        let e = [
            Edge {
                from: 0,
                to: 1,
                weight: -1.0,
            },
            Edge {
                from: 1,
                to: 2,
                weight: f64::NAN,
            },
            Edge {
                from: 2,
                to: 3,
                weight: 0.0,
            },
        ];
        assert_eq!(max_weight_successors(4, &e), vec![None; 4]);
    }

    #[test]
    fn competition_picks_the_global_optimum_not_the_greedy_one() {
        // Greedy takes 0->2 (10) and then 1 has nothing; optimum 0->3 (9) + 1->2 (8) = 17.
        let e = [
            Edge {
                from: 0,
                to: 2,
                weight: 10.0,
            },
            Edge {
                from: 0,
                to: 3,
                weight: 9.0,
            },
            Edge {
                from: 1,
                to: 2,
                weight: 8.0,
            },
        ];
        let s = max_weight_successors(4, &e);
        assert_eq!(s, vec![Some(3), Some(2), None, None]);
    }

    #[test]
    fn matches_brute_force_on_random_graphs() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        for _ in 0..300 {
            let n = rng.gen_range(1..7);
            let m = rng.gen_range(0..11);
            let edges: Vec<Edge> = (0..m)
                .map(|_| Edge {
                    from: rng.gen_range(0..n),
                    to: rng.gen_range(0..n),
                    weight: rng.gen_range(-3.0..10.0),
                })
                .collect();
            let s = max_weight_successors(n, &edges);
            check_valid(n, &s);
            let got = total(&edges, &s);
            let want = brute(n, &edges);
            assert!(
                (got - want).abs() < 1e-9,
                "got {got} want {want} for {edges:?}"
            );
        }
    }

    /// Nodes without a usable edge take no part in the search: spreading a graph's nodes
    /// among many lone ones (in order) changes nothing but the numbering.
    #[test]
    fn lone_nodes_change_nothing() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..50 {
            let n = rng.gen_range(1..9);
            let edges: Vec<Edge> = (0..rng.gen_range(0..20))
                .map(|_| Edge {
                    from: rng.gen_range(0..n),
                    to: rng.gen_range(0..n),
                    weight: rng.gen_range(-1.0..3.0f64).round(),
                })
                .collect();
            let spread = |k: usize| 3 * k + 1;
            let wide: Vec<Edge> = edges
                .iter()
                .map(|e| Edge {
                    from: spread(e.from),
                    to: spread(e.to),
                    ..*e
                })
                .collect();
            let packed = max_weight_successors(n, &edges);
            let spread_out = max_weight_successors(3 * n + 2, &wide);
            for k in 0..3 * n + 2 {
                let expected = (k % 3 == 1 && k / 3 < n)
                    .then(|| packed[k / 3].map(spread))
                    .flatten();
                assert_eq!(spread_out[k], expected, "node {k} of {edges:?}");
            }
        }
    }
}
