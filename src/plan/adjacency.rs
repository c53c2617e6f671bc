/*!
A compact adjacency list (compressed sparse rows): for each of `n` nodes, a slice of `u32`
node indices, all in one vector. Four bytes per node and four per edge, where a
`Vec<Vec<usize>>` takes 24 bytes per node even when it has no edge; nothing per node while no
node has an edge (the usual manifest, without `after`).
*/

use std::ops::Index;

/// For each node, its neighbours, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adjacency {
    /// `offsets[i]..offsets[i + 1]` is node `i`'s range in `edges`: `n + 1` entries, or none
    /// while there is no edge.
    offsets: Vec<u32>,
    /// Every node's neighbours, node after node.
    edges: Vec<u32>,
    /// How many nodes.
    nodes: usize,
}

impl Adjacency {
    /// An empty list, for nodes to be pushed in order with [`Adjacency::push_node`].
    pub fn new() -> Self {
        Adjacency::default()
    }

    /// Adds the next node with `neighbours`.
    ///
    /// # Panics
    /// If there are more than `u32::MAX` edges or a neighbour is above `u32::MAX`.
    pub fn push_node(&mut self, neighbours: impl IntoIterator<Item = usize>) {
        self.edges.extend(
            neighbours
                .into_iter()
                .map(|d| u32::try_from(d).expect("node index fits in u32")),
        );
        let end = u32::try_from(self.edges.len()).expect("edge count fits in u32");
        if self.offsets.is_empty() && end > 0 {
            self.offsets.resize(self.nodes + 1, 0);
        }
        if !self.offsets.is_empty() {
            self.offsets.push(end);
        }
        self.nodes += 1;
    }

    /// The reverse graph: node `j` lists every `i` that lists `j`, in increasing order of `i`.
    pub fn transpose(&self) -> Adjacency {
        let n = self.len();
        if self.edges.is_empty() {
            return self.clone();
        }
        let mut offsets = vec![0u32; n + 1];
        for &j in &self.edges {
            offsets[j as usize + 1] += 1;
        }
        for k in 0..n {
            offsets[k + 1] += offsets[k];
        }
        let mut fill: Vec<u32> = offsets[..n].to_vec();
        let mut edges = vec![0u32; self.edges.len()];
        for i in 0..n {
            for &j in &self[i] {
                let slot = &mut fill[j as usize];
                edges[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        Adjacency {
            offsets,
            edges,
            nodes: n,
        }
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether no node has a neighbour.
    pub fn has_no_edges(&self) -> bool {
        self.edges.is_empty()
    }

    /// Node `i`'s neighbours as indices.
    pub fn of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self[i].iter().map(|&d| d as usize)
    }
}

impl Index<usize> for Adjacency {
    type Output = [u32];

    fn index(&self, i: usize) -> &[u32] {
        assert!(i < self.nodes, "node {i} of {}", self.nodes);
        match self.offsets.get(i..i + 2) {
            Some(&[a, b]) => &self.edges[a as usize..b as usize],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_index_and_transpose() {
        let mut a = Adjacency::new();
        assert!(a.is_empty());
        a.push_node([2, 1]);
        a.push_node([]);
        a.push_node([1]);
        a.push_node([0, 1, 2]);
        assert_eq!(a.len(), 4);
        assert_eq!(&a[0], [2, 1]);
        assert!(a[1].is_empty());
        assert_eq!(a.of(3).collect::<Vec<_>>(), [0, 1, 2]);
        let t = a.transpose();
        assert_eq!(t.len(), 4);
        assert_eq!(&t[0], [3]);
        assert_eq!(&t[1], [0, 2, 3]);
        assert_eq!(&t[2], [0, 3]);
        assert!(t[3].is_empty());
        assert_eq!(t.transpose(), {
            // transposing twice sorts each node's neighbours
            let mut s = Adjacency::new();
            for n in [vec![1, 2], vec![], vec![1], vec![0, 1, 2]] {
                s.push_node(n);
            }
            s
        });
        assert!(!a.has_no_edges());
        let mut e = Adjacency::new();
        e.push_node([]);
        e.push_node([]);
        assert!(e.has_no_edges() && e[1].is_empty() && e.transpose().len() == 2);
        e.push_node([0]);
        assert_eq!((e.len(), &e[2], e[0].len()), (3, &[0][..], 0));
    }
}
