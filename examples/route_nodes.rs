//! Prints the water graph's nodes of the built-in land model as GeoJSON MultiPoint (for drawing).
//!
//! `cargo run --release --example route_nodes > nodes.geojson`
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = shiplink::routing::Router::builtin(&shiplink::config::RouteParams::default())?;
    let pts: Vec<String> = router
        .graph_nodes()
        .iter()
        .map(|p| format!("[{:.6},{:.6}]", p.0, p.1))
        .collect();
    println!("{{\"type\":\"Feature\",\"properties\":{{}},\"geometry\":{{\"type\":\"MultiPoint\",\"coordinates\":[{}]}}}}", pts.join(","));
    Ok(())
}
