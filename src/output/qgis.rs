//! QGIS styles (.qml) for the output layers and the QGIS project (`shiplink.qgs`) that opens them.
//!
//! Both are QGIS 3.22 XML written by hand (no QGIS needed to produce them), checked against
//! what QGIS 3.22 itself writes and loads (tests/qgis/check_outputs.py):
//! - voyages: categorised on `from_port → to_port` (najin → dunay red, dunay → najin blue, other
//!   pairs distinct colours, anything else grey), line width 0.4–2.0 mm by `confidence`, an
//!   arrowhead at the middle and at the end of each route, offset 1 mm to one side so the two
//!   directions of a shuttle lie side by side;
//! - stays: graduated size (2.5–7 mm) by `observation_count`, labelled with `vessel_id` and
//!   `first_seen–last_seen` (UTC);
//! - tracks: one rule, line colour a hash of `vessel_id` (a stable colour per vessel), dashed;
//! - unmatched: muted grey-blue points, lighter at sea than in port; rejected: muted rose;
//! - land: a plain sand fill.
//!
//! The project (EPSG:4326, relative paths) lists the layers with their styles embedded and
//! the temporal controller set up field-based: voyages `departed_after`–`arrived_before`,
//! stays and tracks `first_seen`–`last_seen`, unmatched the instant `observed_at` shown for
//! 12 h; the project time range spans the data, 6 h per frame.
//!
//! ```
//! let qml = shiplink::output::qgis::qml_for("voyages").unwrap();
//! assert!(qml.contains(r#"type="categorizedSymbol""#));
//! assert!(shiplink::output::qgis::qml_for("no-such-layer").is_none());
//! ```

use std::fmt::Write as _;

use geo::BoundingRect;

use super::layer::{Feature, GeomKind, Layer, Value};
use super::write::OutputFormat;
use crate::model::{fmt_time, Time};

/// The QGIS version whose XML this module writes.
pub const QGIS_VERSION: &str = "3.22.16-Białowieża";

/// The GeoPackage file name `-f gpkg` writes (the project points at its layers).
pub const GPKG_FILE: &str = "shiplink.gpkg";

/// The land layer's name (file `land.geojson`, written by the caller).
pub const LAND_LAYER: &str = "land";

/// Region shown when the layers hold no geometry: Najin to Dunay (lon/lat degrees).
const DEFAULT_EXTENT_DEG: [f64; 4] = [129.8, 41.8, 133.0, 43.3];

/// Top-to-bottom drawing order of the known layers in the project's layer tree.
const TREE_ORDER: [&str; 7] = [
    "stays",
    "voyages",
    "unmatched",
    "links",
    "tracks",
    "rejected",
    LAND_LAYER,
];

/// The QGIS style file (QML) for one output layer, or `None` for a layer name we do not style.
pub fn qml_for(layer_name: &str) -> Option<String> {
    let body = style_body(layer_name)?;
    let labels = if body.contains("<labeling") { "1" } else { "0" };
    Some(format!(
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n\
         <qgis version=\"{QGIS_VERSION}\" styleCategories=\"Symbology|Labeling|MapTips\" labelsEnabled=\"{labels}\">\n\
         {body}</qgis>\n"
    ))
}

/// A map tip (View → Show Map Tips, hovering a feature): `head`, then the feature's
/// confidence and evidence.
fn evidence_map_tip(head: &str) -> String {
    format!(
        " <mapTip>{}</mapTip>\n",
        esc(&format!(
            "{head}, confidence [% \"confidence\" %]<br>[% \"evidence\" %]"
        ))
    )
}

/// The renderer (and labelling) XML of a layer's style, as it sits in a QML or a project.
fn style_body(layer_name: &str) -> Option<String> {
    let mut s =
        match layer_name {
            "voyages" => {
                voyages_renderer()
                    + &evidence_map_tip(
                        "<b>[% \"voyage_id\" %]</b> [% \"from_port\" %] → [% \"to_port\" %]",
                    )
            }
            "stays" => stays_renderer() + &stays_labeling(),
            "tracks" => tracks_renderer(),
            "links" => links_renderer()
                + &evidence_map_tip(
                    "<b>[% \"link_id\" %]</b> [% \"kind\" %] [% \"from_id\" %] → [% \"to_id\" %]",
                ),
            "unmatched" => unmatched_renderer(),
            "rejected" => rejected_renderer(),
            LAND_LAYER => land_renderer(),
            _ => return None,
        };
    s.push_str(" <blendMode>0</blendMode>\n <featureBlendMode>0</featureBlendMode>\n");
    Some(s)
}

// ---------------------------------------------------------------------------------------------
// Symbols

/// An RGBA colour as QGIS writes it.
#[derive(Clone, Copy)]
struct Rgba(u8, u8, u8, u8);

impl Rgba {
    fn qgis(self) -> String {
        format!("{},{},{},{}", self.0, self.1, self.2, self.3)
    }
}

const RED: Rgba = Rgba(215, 25, 28, 255);
const BLUE: Rgba = Rgba(31, 111, 180, 255);
const GREY: Rgba = Rgba(130, 130, 130, 255);
const DARK: Rgba = Rgba(40, 40, 40, 255);

/// Route colours for the other ordered pairs of built-in ports (after najin↔dunay).
const OTHER_ROUTES: [(&str, &str, Rgba); 10] = [
    ("najin", "vostochny", Rgba(253, 141, 60, 255)),
    ("vostochny", "najin", Rgba(106, 61, 154, 255)),
    ("najin", "vladivostok", Rgba(231, 41, 138, 255)),
    ("vladivostok", "najin", Rgba(27, 158, 119, 255)),
    ("dunay", "vostochny", Rgba(166, 118, 29, 255)),
    ("vostochny", "dunay", Rgba(102, 166, 30, 255)),
    ("dunay", "vladivostok", Rgba(117, 112, 179, 255)),
    ("vladivostok", "dunay", Rgba(230, 171, 2, 255)),
    ("vostochny", "vladivostok", Rgba(140, 81, 10, 255)),
    ("vladivostok", "vostochny", Rgba(1, 102, 94, 255)),
];

/// XML-escapes text for an attribute value or element content.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            _ => out.push(c),
        }
    }
    out
}

/// Symbol-layer properties (`<Option type="Map">`), then data-defined properties
/// (property key, QGIS expression).
fn symbol_layer(class: &str, props: &[(&str, String)], dd: &[(&str, &str)]) -> String {
    let mut s = format!("    <layer class=\"{class}\" pass=\"0\" locked=\"0\" enabled=\"1\">\n     <Option type=\"Map\">\n");
    for (k, v) in props {
        let _ = writeln!(
            s,
            "      <Option name=\"{k}\" type=\"QString\" value=\"{}\"/>",
            esc(v)
        );
    }
    s.push_str("     </Option>\n");
    s.push_str(&data_defined(dd, "     "));
    s.push_str("    </layer>\n");
    s
}

/// A `<data_defined_properties>` collection of expression-based properties.
fn data_defined(dd: &[(&str, &str)], indent: &str) -> String {
    let mut s = format!("{indent}<data_defined_properties>\n{indent} <Option type=\"Map\">\n{indent}  <Option name=\"name\" type=\"QString\" value=\"\"/>\n");
    if dd.is_empty() {
        let _ = writeln!(s, "{indent}  <Option name=\"properties\"/>");
    } else {
        let _ = writeln!(s, "{indent}  <Option name=\"properties\" type=\"Map\">");
        for (key, expr) in dd {
            let _ = write!(
                s,
                "{indent}   <Option name=\"{key}\" type=\"Map\">\n\
                 {indent}    <Option name=\"active\" type=\"bool\" value=\"true\"/>\n\
                 {indent}    <Option name=\"expression\" type=\"QString\" value=\"{}\"/>\n\
                 {indent}    <Option name=\"type\" type=\"int\" value=\"3\"/>\n\
                 {indent}   </Option>\n",
                esc(expr)
            );
        }
        let _ = writeln!(s, "{indent}  </Option>");
    }
    let _ = write!(
        s,
        "{indent}  <Option name=\"type\" type=\"QString\" value=\"collection\"/>\n{indent} </Option>\n{indent}</data_defined_properties>\n"
    );
    s
}

/// A `<symbol>` of type line/marker/fill holding the given symbol layers.
fn symbol(kind: &str, name: &str, alpha: f64, layers: &[String]) -> String {
    let mut s = format!(
        "   <symbol type=\"{kind}\" name=\"{}\" alpha=\"{alpha}\" clip_to_extent=\"1\" force_rhr=\"0\">\n",
        esc(name)
    );
    s.push_str(&data_defined(&[], "    "));
    for l in layers {
        s.push_str(l);
    }
    s.push_str("   </symbol>\n");
    s
}

fn simple_line(
    color: Rgba,
    width_mm: f64,
    offset_mm: f64,
    style: &str,
    dd: &[(&str, &str)],
) -> String {
    symbol_layer(
        "SimpleLine",
        &[
            ("offset", offset_mm.to_string()),
            ("offset_unit", "MM".into()),
            ("line_color", color.qgis()),
            ("line_width", width_mm.to_string()),
            ("line_width_unit", "MM".into()),
            ("line_style", style.into()),
            ("capstyle", "round".into()),
            ("joinstyle", "round".into()),
            ("customdash", "4;2".into()),
            (
                "use_custom_dash",
                if style == "dash" { "1" } else { "0" }.into(),
            ),
        ],
        dd,
    )
}

fn simple_marker(shape: &str, fill: Rgba, outline: Rgba, size_mm: f64) -> String {
    symbol_layer(
        "SimpleMarker",
        &[
            ("name", shape.into()),
            ("color", fill.qgis()),
            ("outline_color", outline.qgis()),
            ("outline_width", "0.2".into()),
            ("outline_width_unit", "MM".into()),
            ("size", size_mm.to_string()),
            ("size_unit", "MM".into()),
            ("scale_method", "diameter".into()),
            ("angle", "0".into()),
        ],
        &[],
    )
}

/// A marker line drawing a filled arrowhead in `color` at `placement` (centralpoint, lastvertex).
fn arrow_marker_line(placement: &str, color: Rgba, size_mm: f64, offset_mm: f64) -> String {
    let head = simple_marker("filled_arrowhead", color, color, size_mm);
    let sub = symbol("marker", &format!("@arrow@{placement}"), 1.0, &[head]);
    let mut s = symbol_layer(
        "MarkerLine",
        &[
            ("placement", placement.into()),
            ("rotate", "1".into()),
            ("interval", "20".into()),
            ("interval_unit", "MM".into()),
            ("offset", offset_mm.to_string()),
            ("offset_unit", "MM".into()),
            ("offset_along_line", "0".into()),
        ],
        &[],
    );
    // The arrowhead symbol sits inside the marker-line layer, after its properties.
    if let Some(pos) = s.rfind("    </layer>") {
        s.insert_str(pos, &indent(&sub, 2));
    }
    s
}

fn simple_fill(fill: Rgba, outline: Rgba, outline_width_mm: f64) -> String {
    symbol_layer(
        "SimpleFill",
        &[
            ("color", fill.qgis()),
            ("style", "solid".into()),
            ("outline_color", outline.qgis()),
            ("outline_style", "solid".into()),
            ("outline_width", outline_width_mm.to_string()),
            ("outline_width_unit", "MM".into()),
        ],
        &[],
    )
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

// ---------------------------------------------------------------------------------------------
// Renderers

/// Line width (mm) by voyage confidence in [0, 1].
const VOYAGE_WIDTH_EXPR: &str = "0.4 + 1.6 * coalesce(min(max(\"confidence\", 0), 1), 0.3)";

/// Sideways offset (mm) of a voyage line, so that the two directions of a shuttle lie side by
/// side instead of on top of each other.
const VOYAGE_OFFSET_MM: f64 = 1.0;

/// The category value a voyage falls in.
const VOYAGE_CATEGORY_EXPR: &str = "concat(\"from_port\", ' → ', \"to_port\")";

fn voyage_symbol(name: &str, color: Rgba) -> String {
    symbol(
        "line",
        name,
        1.0,
        &[
            simple_line(
                color,
                0.8,
                VOYAGE_OFFSET_MM,
                "solid",
                &[("outlineWidth", VOYAGE_WIDTH_EXPR)],
            ),
            arrow_marker_line("centralpoint", color, 5.0, VOYAGE_OFFSET_MM),
            arrow_marker_line("lastvertex", color, 4.0, VOYAGE_OFFSET_MM),
        ],
    )
}

fn voyages_renderer() -> String {
    let mut routes: Vec<(String, Rgba)> = vec![
        ("najin → dunay".into(), RED),
        ("dunay → najin".into(), BLUE),
    ];
    routes.extend(
        OTHER_ROUTES
            .iter()
            .map(|(a, b, c)| (format!("{a} → {b}"), *c)),
    );
    let mut cats = String::new();
    let mut syms = String::new();
    for (i, (value, color)) in routes.iter().enumerate() {
        let _ = writeln!(
            cats,
            "   <category render=\"true\" symbol=\"{i}\" value=\"{0}\" label=\"{0}\"/>",
            esc(value)
        );
        syms.push_str(&voyage_symbol(&i.to_string(), *color));
    }
    // An empty value is QGIS's "all other values" category.
    let other = routes.len();
    let _ = writeln!(
        cats,
        "   <category render=\"true\" symbol=\"{other}\" value=\"\" label=\"other route\"/>"
    );
    syms.push_str(&voyage_symbol(&other.to_string(), GREY));
    format!(
        " <renderer-v2 type=\"categorizedSymbol\" attr=\"{}\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\" referencescale=\"-1\">\n  <categories>\n{cats}  </categories>\n  <symbols>\n{syms}  </symbols>\n  <rotation/>\n  <sizescale/>\n </renderer-v2>\n",
        esc(VOYAGE_CATEGORY_EXPR)
    )
}

/// Stay size classes: (lower, upper, marker diameter mm, label).
const STAY_SIZES: [(f64, f64, f64, &str); 4] = [
    (0.0, 2.0, 2.5, "1–2 observations"),
    (2.0, 5.0, 3.5, "3–5 observations"),
    (5.0, 10.0, 5.0, "6–10 observations"),
    (10.0, 1.0e9, 7.0, "more than 10"),
];

fn stays_renderer() -> String {
    let fill = Rgba(0, 150, 136, 200);
    let mut ranges = String::new();
    let mut syms = String::new();
    for (i, (lo, hi, size_mm, label)) in STAY_SIZES.iter().enumerate() {
        let _ = writeln!(
            ranges,
            "   <range lower=\"{lo:.6}\" upper=\"{hi:.6}\" render=\"true\" symbol=\"{i}\" label=\"{}\"/>",
            esc(label)
        );
        syms.push_str(&symbol(
            "marker",
            &i.to_string(),
            1.0,
            &[simple_marker("circle", fill, DARK, *size_mm)],
        ));
    }
    format!(
        " <renderer-v2 type=\"graduatedSymbol\" attr=\"observation_count\" graduatedMethod=\"GraduatedSize\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\" referencescale=\"-1\">\n  <ranges>\n{ranges}  </ranges>\n  <symbols>\n{syms}  </symbols>\n  <classificationMethod id=\"Custom\">\n   <symmetricMode enabled=\"0\" symmetrypoint=\"0\" astride=\"0\"/>\n   <labelFormat format=\"%1 - %2\" labelprecision=\"0\" trimtrailingzeroes=\"1\"/>\n   <parameters>\n    <Option/>\n   </parameters>\n   <extraInformation/>\n  </classificationMethod>\n  <rotation/>\n  <sizescale/>\n </renderer-v2>\n"
    )
}

/// The stay label: vessel, then first–last seen (UTC).
const STAY_LABEL_EXPR: &str = "\"vessel_id\" || '\\n' || format_date(\"first_seen\", 'MM-dd HH:mm') || '–' || format_date(\"last_seen\", 'MM-dd HH:mm')";

fn stays_labeling() -> String {
    format!(
        " <labeling type=\"simple\">\n  <settings calloutType=\"simple\">\n   \
         <text-style fieldName=\"{}\" isExpression=\"1\" fontFamily=\"Sans Serif\" fontSize=\"7.5\" fontSizeUnit=\"Point\" textColor=\"30,30,30,255\" textOpacity=\"1\" multilineHeight=\"1\" fontWeight=\"50\" fontItalic=\"0\" fontUnderline=\"0\" fontStrikeout=\"0\" namedStyle=\"Regular\" blendMode=\"0\" allowHtml=\"0\" capitalization=\"0\" textOrientation=\"horizontal\" useSubstitutions=\"0\" previewBkgrdColor=\"255,255,255,255\">\n    \
         <text-buffer bufferDraw=\"1\" bufferSize=\"0.8\" bufferSizeUnits=\"MM\" bufferColor=\"255,255,255,255\" bufferOpacity=\"0.8\" bufferNoFill=\"1\" bufferJoinStyle=\"128\" bufferBlendMode=\"0\"/>\n   \
         </text-style>\n   \
         <text-format multilineAlign=\"0\" wrapChar=\"\" autoWrapLength=\"0\" useMaxLineLengthForAutoWrap=\"1\" formatNumbers=\"0\" decimals=\"3\" plussign=\"0\" addDirectionSymbol=\"0\"/>\n   \
         <placement placement=\"6\" placementFlags=\"10\" quadOffset=\"4\" dist=\"1.5\" distUnits=\"MM\" offsetType=\"1\" predefinedPositionOrder=\"TR,TL,BR,BL,R,L,TSR,BSR\" priority=\"5\" xOffset=\"0\" yOffset=\"0\" offsetUnits=\"MM\" rotationAngle=\"0\"/>\n   \
         <rendering drawLabels=\"1\" obstacle=\"1\" obstacleFactor=\"1\" obstacleType=\"1\" displayAll=\"0\" upsidedownLabels=\"0\" labelPerPart=\"0\" mergeLines=\"0\" minFeatureSize=\"0\" limitNumLabels=\"0\" maxNumLabels=\"2000\" scaleVisibility=\"0\" scaleMin=\"0\" scaleMax=\"0\" fontLimitPixelSize=\"0\" fontMinPixelSize=\"3\" fontMaxPixelSize=\"10000\" zIndex=\"0\" unplacedVisibility=\"0\"/>\n   \
         {}\
         </settings>\n </labeling>\n",
        esc(STAY_LABEL_EXPR),
        data_defined(&[], "   ")
    )
}

/// A stable colour per vessel: hue from a position-weighted character sum of `vessel_id`.
const TRACK_COLOR_EXPR: &str = "color_hsv((coalesce(array_sum(array_foreach(generate_series(1, length(\"vessel_id\")), ascii(substr(\"vessel_id\", @element, 1)) * @element)), 0) * 37) % 360, 70, 75)";

/// Links by kind: passages solid, returns dotted, gaps dashed red, duplicates green; the
/// less sure a link, the fainter (opacity from `confidence`).
fn links_renderer() -> String {
    let alpha = [(
        "outlineColor",
        "set_color_part(@symbol_color, 'alpha', 60 + 195 * coalesce(\"confidence\", 0))",
    )];
    let line = |name: &str, color: Rgba, style: &str| {
        symbol(
            "line",
            name,
            1.0,
            &[simple_line(color, 0.4, 0.0, style, &alpha)],
        )
    };
    let symbols = [
        line("0", BLUE, "solid"),
        line("1", GREY, "dot"),
        line("2", RED, "dash"),
        line("3", Rgba(51, 160, 44, 255), "solid"),
        line("4", DARK, "solid"),
    ]
    .concat();
    rule_renderer(
        &[
            ("0", "passage", "\"kind\" = 'passage'"),
            ("1", "return to the same port", "\"kind\" = 'return'"),
            ("2", "gap (no voyage made across it)", "\"kind\" = 'gap'"),
            ("3", "duplicate sighting", "\"kind\" = 'duplicate'"),
            ("4", "other", "ELSE"),
        ],
        &symbols,
    )
}

fn tracks_renderer() -> String {
    let sym = symbol(
        "line",
        "0",
        0.85,
        &[simple_line(
            GREY,
            0.5,
            0.0,
            "dash",
            &[("outlineColor", TRACK_COLOR_EXPR)],
        )],
    );
    rule_renderer(&[("0", "vessel track (colour per vessel_id)", "")], &sym)
}

fn unmatched_renderer() -> String {
    let at_sea = symbol(
        "marker",
        "0",
        0.8,
        &[simple_marker(
            "circle",
            Rgba(150, 165, 185, 255),
            Rgba(110, 120, 135, 255),
            1.8,
        )],
    );
    let in_port = symbol(
        "marker",
        "1",
        0.8,
        &[simple_marker(
            "circle",
            Rgba(165, 180, 160, 255),
            Rgba(115, 125, 110, 255),
            1.8,
        )],
    );
    rule_renderer(
        &[
            ("0", "unmatched at sea", "\"port\" IS NULL"),
            ("1", "unmatched in port", "ELSE"),
        ],
        &(at_sea + &in_port),
    )
}

fn rejected_renderer() -> String {
    let rose = Rgba(200, 140, 150, 255);
    let point = symbol(
        "marker",
        "0",
        0.8,
        &[simple_marker("cross2", rose, Rgba(170, 100, 115, 255), 2.2)],
    );
    let line = symbol(
        "line",
        "1",
        0.8,
        &[simple_line(rose, 0.4, 0.0, "dash", &[])],
    );
    let poly = symbol(
        "fill",
        "2",
        0.5,
        &[simple_fill(rose, Rgba(170, 100, 115, 255), 0.3)],
    );
    rule_renderer(
        &[
            ("0", "rejected point", "geometry_type($geometry) = 'Point'"),
            ("1", "rejected line", "geometry_type($geometry) = 'Line'"),
            (
                "2",
                "rejected polygon",
                "geometry_type($geometry) = 'Polygon'",
            ),
        ],
        &(point + &line + &poly),
    )
}

fn land_renderer() -> String {
    let sym = symbol(
        "fill",
        "0",
        1.0,
        &[simple_fill(
            Rgba(237, 226, 196, 255),
            Rgba(196, 180, 140, 255),
            0.2,
        )],
    );
    format!(
        " <renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\" referencescale=\"-1\">\n  <symbols>\n{sym}  </symbols>\n  <rotation/>\n  <sizescale/>\n </renderer-v2>\n"
    )
}

/// A rule-based renderer: rules (symbol name, label, filter; `ELSE` or empty) over `symbols`.
fn rule_renderer(rules: &[(&str, &str, &str)], symbols: &str) -> String {
    let mut r = String::new();
    for (i, (sym, label, filter)) in rules.iter().enumerate() {
        let filter_attr = if filter.is_empty() {
            String::new()
        } else {
            format!(" filter=\"{}\"", esc(filter))
        };
        let _ = writeln!(
            r,
            "   <rule key=\"{{shiplink-rule-{i}}}\" symbol=\"{sym}\" label=\"{}\"{filter_attr}/>",
            esc(label)
        );
    }
    format!(
        " <renderer-v2 type=\"RuleRenderer\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\" referencescale=\"-1\">\n  <rules key=\"{{shiplink-rules}}\">\n{r}  </rules>\n  <symbols>\n{symbols}  </symbols>\n </renderer-v2>\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Project

/// How the temporal controller reads a layer's time.
enum Temporal {
    /// Mode 2: start and end from two fields.
    StartEnd(&'static str, &'static str),
    /// Mode 1: an instant from one field, shown for `hours`.
    Instant(&'static str, u32),
}

fn temporal_for(layer_name: &str) -> Option<Temporal> {
    match layer_name {
        "voyages" => Some(Temporal::StartEnd("departed_after", "arrived_before")),
        "stays" | "tracks" => Some(Temporal::StartEnd("first_seen", "last_seen")),
        "links" => Some(Temporal::StartEnd("from_time", "to_time")),
        "unmatched" => Some(Temporal::Instant("observed_at", 12)),
        _ => None,
    }
}

/// The `<temporal>` element QGIS 3.22 writes for a vector layer's temporal properties.
/// mode 1 = ModeFeatureDateTimeInstantFromField, 2 = ModeFeatureDateTimeStartAndEndFromFields;
/// limitMode 1 = include the end instant.
fn temporal_xml(t: &Temporal) -> String {
    let (mode, start, end, duration, unit) = match t {
        Temporal::StartEnd(s, e) => ("2", *s, *e, 0, "min"),
        Temporal::Instant(s, hours) => ("1", *s, "", *hours, "h"),
    };
    format!(
        "   <temporal enabled=\"1\" mode=\"{mode}\" startField=\"{start}\" endField=\"{end}\" durationField=\"\" durationUnit=\"{unit}\" fixedDuration=\"{duration}\" accumulate=\"0\" limitMode=\"1\" startExpression=\"\" endExpression=\"\">\n    <fixedRange>\n     <start></start>\n     <end></end>\n    </fixedRange>\n   </temporal>\n"
    )
}

const WGS84_SRS: &str = "<spatialrefsys>\n <wkt>GEOGCRS[\"WGS 84\",DATUM[\"World Geodetic System 1984\",ELLIPSOID[\"WGS 84\",6378137,298.257223563,LENGTHUNIT[\"metre\",1]]],PRIMEM[\"Greenwich\",0,ANGLEUNIT[\"degree\",0.0174532925199433]],CS[ellipsoidal,2],AXIS[\"geodetic latitude (Lat)\",north,ORDER[1],ANGLEUNIT[\"degree\",0.0174532925199433]],AXIS[\"geodetic longitude (Lon)\",east,ORDER[2],ANGLEUNIT[\"degree\",0.0174532925199433]],ID[\"EPSG\",4326]]</wkt>\n <proj4>+proj=longlat +datum=WGS84 +no_defs</proj4>\n <srsid>3452</srsid>\n <srid>4326</srid>\n <authid>EPSG:4326</authid>\n <description>WGS 84</description>\n <projectionacronym>longlat</projectionacronym>\n <ellipsoidacronym>EPSG:7030</ellipsoidacronym>\n <geographicflag>true</geographicflag>\n</spatialrefsys>\n";

/// One layer as the project lists it.
struct ProjectLayer {
    name: String,
    source: String,
    geometry: &'static str,
}

/// The layer's stable project id (deterministic: no UUIDs).
fn layer_id(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("shiplink_{clean}")
}

fn geometry_name(kind: GeomKind) -> &'static str {
    match kind {
        GeomKind::Point => "Point",
        GeomKind::LineString => "Line",
        GeomKind::Any => "Unknown",
    }
}

/// What the project needs to know of one written layer, gathered feature by feature while
/// the layer is written (so the layer itself need not be kept): its name, geometry kind,
/// feature count, the bounding box of its finite geometries and the span of its time values.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSummary {
    pub name: String,
    pub geom_kind: GeomKind,
    pub features: usize,
    /// `[xmin, ymin, xmax, ymax]` (degrees) of the features' geometries, if any is finite.
    pub bbox_deg: Option<[f64; 4]>,
    /// Earliest and latest [`Value::Time`] of the features, if any.
    pub time_span: Option<(Time, Time)>,
}

impl LayerSummary {
    /// The summary of a layer with no features yet (`schema`'s features are not read).
    pub fn new(schema: &Layer) -> LayerSummary {
        LayerSummary {
            name: schema.name.clone(),
            geom_kind: schema.geom_kind,
            features: 0,
            bbox_deg: None,
            time_span: None,
        }
    }

    /// The summary of a whole layer.
    pub fn of(layer: &Layer) -> LayerSummary {
        let mut s = LayerSummary::new(layer);
        for f in &layer.features {
            s.add(f);
        }
        s
    }

    /// Counts one feature and widens the box and the time span by it.
    pub fn add(&mut self, f: &Feature) {
        self.features += 1;
        if let Some(r) = f.geometry.as_ref().and_then(|g| g.bounding_rect()) {
            let (lo, hi) = (r.min(), r.max());
            if [lo.x, lo.y, hi.x, hi.y].iter().all(|v| v.is_finite()) {
                self.bbox_deg = Some(widen_box(self.bbox_deg, [lo.x, lo.y, hi.x, hi.y]));
            }
        }
        for v in &f.values {
            if let Value::Time(t) = v {
                self.time_span = Some(match self.time_span {
                    None => (*t, *t),
                    Some((a, b)) => (a.min(*t), b.max(*t)),
                });
            }
        }
    }
}

fn widen_box(bb: Option<[f64; 4]>, [x0, y0, x1, y1]: [f64; 4]) -> [f64; 4] {
    match bb {
        None => [x0, y0, x1, y1],
        Some(b) => [b[0].min(x0), b[1].min(y0), b[2].max(x1), b[3].max(y1)],
    }
}

/// The bounding box `[xmin, ymin, xmax, ymax]` (degrees) of all geometries (but rejected
/// ones), padded by 15 % (at least 0.1°) for labels, or the Najin–Dunay region when there is
/// none.
pub fn data_extent_deg(layers: &[LayerSummary]) -> [f64; 4] {
    let bb = layers
        .iter()
        .filter(|l| l.name != "rejected")
        .filter_map(|l| l.bbox_deg)
        .fold(None, |acc, b| Some(widen_box(acc, b)));
    match bb {
        None => DEFAULT_EXTENT_DEG,
        Some([x0, y0, x1, y1]) => {
            let px = ((x1 - x0) * 0.15).max(0.1);
            let py = ((y1 - y0) * 0.15).max(0.1);
            [
                (x0 - px).max(-180.0),
                (y0 - py).max(-90.0),
                (x1 + px).min(180.0),
                (y1 + py).min(90.0),
            ]
        }
    }
}

/// The earliest and latest time value in the layers, if any.
pub fn data_time_span(layers: &[LayerSummary]) -> Option<(Time, Time)> {
    layers
        .iter()
        .filter_map(|l| l.time_span)
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
}

/// The QGIS project (`shiplink.qgs`) for an output directory holding `layers` in `format`,
/// plus `land.geojson` at the bottom when `has_land`. Paths are relative to the project.
/// `layers` are the summaries of the written layers ([`LayerSummary::of`] a whole layer).
pub fn project_qgs(format: OutputFormat, layers: &[LayerSummary], has_land: bool) -> String {
    let mut listed: Vec<ProjectLayer> = layers
        .iter()
        .map(|l| ProjectLayer {
            name: l.name.clone(),
            source: match format {
                // An empty GeoJSON collection has no geometry type, and QGIS draws (and
                // styles) no layer without one: name the type for empty layers.
                OutputFormat::Geojson if l.features == 0 => format!(
                    "./{}.geojson|geometrytype={}",
                    l.name,
                    match l.geom_kind {
                        GeomKind::LineString => "LineString",
                        _ => "Point",
                    }
                ),
                OutputFormat::Geojson => format!("./{}.geojson", l.name),
                OutputFormat::Gpkg => format!("./{GPKG_FILE}|layername={}", l.name),
            },
            geometry: geometry_name(l.geom_kind),
        })
        .collect();
    if has_land {
        listed.push(ProjectLayer {
            name: LAND_LAYER.into(),
            source: format!("./{LAND_LAYER}.geojson"),
            geometry: "Polygon",
        });
    }
    // Known layers in drawing order, then any others (top of the tree first).
    listed.sort_by_key(|l| {
        TREE_ORDER
            .iter()
            .position(|n| *n == l.name)
            .unwrap_or(TREE_ORDER.len() - 1)
    });

    let [x0, y0, x1, y1] = data_extent_deg(layers);
    let extent = format!("<xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax>");

    let mut s = String::with_capacity(64 * 1024);
    let _ = writeln!(
        s,
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
    );
    let _ = writeln!(
        s,
        "<qgis version=\"{QGIS_VERSION}\" projectname=\"shiplink\">"
    );
    s.push_str(" <homePath path=\"\"/>\n <title>shiplink</title>\n");
    let _ = write!(s, " <projectCrs>\n{} </projectCrs>\n", indent(WGS84_SRS, 2));

    // Layer tree.
    s.push_str(" <layer-tree-group>\n  <customproperties>\n   <Option/>\n  </customproperties>\n");
    for l in &listed {
        // The links are straight lines between a track's events (voyages are drawn over
        // the sea): there to inspect, off until asked for.
        let checked = if l.name == "links" {
            "Qt::Unchecked"
        } else {
            "Qt::Checked"
        };
        let _ = write!(
            s,
            "  <layer-tree-layer id=\"{}\" name=\"{}\" source=\"{}\" providerKey=\"ogr\" checked=\"{checked}\" expanded=\"{}\" legend_exp=\"\" patch_size=\"-1,-1\" legend_split_behavior=\"0\">\n   <customproperties>\n    <Option/>\n   </customproperties>\n  </layer-tree-layer>\n",
            layer_id(&l.name),
            esc(&l.name),
            esc(&l.source),
            if l.name == "voyages" || l.name == "stays" { 1 } else { 0 }
        );
    }
    s.push_str("  <custom-order enabled=\"0\">\n");
    for l in listed.iter().rev() {
        let _ = writeln!(s, "   <item>{}</item>", layer_id(&l.name));
    }
    s.push_str("  </custom-order>\n </layer-tree-group>\n");

    // The map canvas view (QGIS desktop) and the default view extent (3.18+).
    let _ = write!(
        s,
        " <mapcanvas name=\"theMapCanvas\" annotationsVisible=\"1\">\n  <units>degrees</units>\n  <extent>{extent}</extent>\n  <rotation>0</rotation>\n  <destinationsrs>\n{}  </destinationsrs>\n  <rendermaptile>0</rendermaptile>\n  <expressionContextScope/>\n </mapcanvas>\n",
        indent(WGS84_SRS, 3)
    );

    // Layers.
    s.push_str(" <projectlayers>\n");
    for l in &listed {
        let labels = if l.name == "stays" { 1 } else { 0 };
        let _ = write!(
            s,
            "  <maplayer type=\"vector\" geometry=\"{}\" labelsEnabled=\"{labels}\" styleCategories=\"AllStyleCategories\" hasScaleBasedVisibilityFlag=\"0\" minScale=\"100000000\" maxScale=\"0\" readOnly=\"0\" autoRefreshEnabled=\"0\" autoRefreshTime=\"0\" refreshOnNotifyEnabled=\"0\" refreshOnNotifyMessage=\"\" simplifyDrawingHints=\"0\" simplifyAlgorithm=\"0\" simplifyDrawingTol=\"1\" simplifyLocal=\"1\" simplifyMaxScale=\"1\" symbologyReferenceScale=\"-1\">\n   <id>{}</id>\n   <datasource>{}</datasource>\n   <layername>{}</layername>\n   <srs>\n{}   </srs>\n   <provider encoding=\"UTF-8\">ogr</provider>\n   <map-layer-style-manager current=\"default\">\n    <map-layer-style name=\"default\"/>\n   </map-layer-style-manager>\n   <flags>\n    <Identifiable>1</Identifiable>\n    <Removable>1</Removable>\n    <Searchable>1</Searchable>\n    <Private>0</Private>\n   </flags>\n",
            l.geometry,
            layer_id(&l.name),
            esc(&l.source),
            esc(&l.name),
            indent(WGS84_SRS, 4),
        );
        if let Some(t) = temporal_for(&l.name) {
            s.push_str(&temporal_xml(&t));
        }
        if let Some(body) = style_body(&l.name) {
            s.push_str(&indent(&body, 2));
        }
        s.push_str("  </maplayer>\n");
    }
    s.push_str(" </projectlayers>\n");

    s.push_str(
        " <properties>\n  <Paths>\n   <Absolute type=\"bool\">false</Absolute>\n  </Paths>\n  <SpatialRefSys>\n   <ProjectionsEnabled type=\"int\">1</ProjectionsEnabled>\n  </SpatialRefSys>\n </properties>\n",
    );
    let _ = write!(
        s,
        " <ProjectViewSettings UseProjectScales=\"0\" rotation=\"0\">\n  <Scales/>\n  <DefaultViewExtent xmin=\"{x0}\" ymin=\"{y0}\" xmax=\"{x1}\" ymax=\"{y1}\">\n{}  </DefaultViewExtent>\n </ProjectViewSettings>\n",
        indent(WGS84_SRS, 3)
    );
    // Time: the span of the data, 6 h a frame, 2 frames a second.
    let range = match data_time_span(layers) {
        Some((a, b)) => format!(
            "  <TemporalRange>\n   <start>{}</start>\n   <end>{}</end>\n  </TemporalRange>\n",
            fmt_time(a),
            fmt_time(b)
        ),
        None => String::new(),
    };
    let _ = write!(
        s,
        " <ProjectTimeSettings timeStepUnit=\"h\" timeStep=\"6\" frameRate=\"2\" cumulativeTemporalRange=\"0\">\n{range} </ProjectTimeSettings>\n"
    );
    s.push_str("</qgis>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::layer::{Feature, Field, FieldKind, GeomKind};

    #[test]
    fn unknown_layer_has_no_style() {
        assert!(qml_for("").is_none());
        assert!(qml_for("summary").is_none());
    }

    #[test]
    fn every_known_layer_has_a_non_default_renderer() {
        for (name, kind) in [
            ("voyages", "categorizedSymbol"),
            ("stays", "graduatedSymbol"),
            ("tracks", "RuleRenderer"),
            ("links", "RuleRenderer"),
            ("unmatched", "RuleRenderer"),
            ("rejected", "RuleRenderer"),
            ("land", "singleSymbol"),
        ] {
            let qml = qml_for(name).expect("styled");
            assert!(qml.contains(&format!("type=\"{kind}\"")), "{name}");
        }
    }

    #[test]
    fn voyage_categories_colour_the_shuttle_red_and_blue() {
        let qml = qml_for("voyages").expect("styled");
        assert!(qml.contains("value=\"najin → dunay\""));
        assert!(qml.contains("value=\"dunay → najin\""));
        assert!(qml.contains("215,25,28,255"));
        assert!(qml.contains("31,111,180,255"));
        assert!(qml.contains("filled_arrowhead"));
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("a<\"b\">&'"), "a&lt;&quot;b&quot;&gt;&amp;&apos;");
    }

    #[test]
    fn project_lists_layers_with_relative_sources_and_time() {
        let mut v = Layer::new(
            "voyages",
            GeomKind::LineString,
            vec![Field::new("departed_after", FieldKind::DateTime)],
        );
        v.features.push(Feature {
            id: "v1".into(),
            geometry: Some(geo::Geometry::Point(geo::Point::new(130.3, 42.236))),
            values: vec![Value::Time(1_709_251_200)],
            extra: vec![],
        });
        let empty = Layer::new("stays", GeomKind::Point, vec![]);
        let links = Layer::new("links", GeomKind::LineString, vec![]);
        let layers = vec![
            LayerSummary::of(&v),
            LayerSummary::of(&empty),
            LayerSummary::of(&links),
        ];
        let gj = project_qgs(OutputFormat::Geojson, &layers, true);
        assert!(gj.contains("<datasource>./voyages.geojson</datasource>"));
        assert!(gj.contains("<datasource>./land.geojson</datasource>"));
        assert!(gj.contains("startField=\"departed_after\" endField=\"arrived_before\""));
        assert!(gj.contains("<start>2024-03-01T00:00:00Z</start>"));
        // land is last in the tree (drawn at the bottom).
        let land = gj.find("name=\"land\"").expect("land");
        let stays = gj.find("name=\"stays\"").expect("stays");
        assert!(stays < land);
        assert!(gj.contains("<datasource>./stays.geojson|geometrytype=Point</datasource>"));
        // The straight links are off until asked for; the rest are on.
        assert!(gj.contains("name=\"links\" source=\"./links.geojson|geometrytype=LineString\" providerKey=\"ogr\" checked=\"Qt::Unchecked\""), "{gj}");
        assert!(gj.contains("name=\"voyages\" source=\"./voyages.geojson\" providerKey=\"ogr\" checked=\"Qt::Checked\""));
        let gp = project_qgs(OutputFormat::Gpkg, &layers, false);
        assert!(gp.contains("<datasource>./shiplink.gpkg|layername=voyages</datasource>"));
        assert!(!gp.contains("land.geojson"));
        // Deterministic.
        assert_eq!(gj, project_qgs(OutputFormat::Geojson, &layers, true));
    }

    #[test]
    fn summaries_give_the_extent_without_rejected_and_the_time_span_of_all() {
        let point = |id: &str, lon: f64, t: Option<Time>| Feature {
            id: id.into(),
            geometry: Some(geo::Geometry::Point(geo::Point::new(lon, 42.0))),
            values: t.map(Value::Time).into_iter().collect(),
            extra: vec![],
        };
        let mut stays = Layer::new("stays", GeomKind::Point, vec![]);
        stays.features.push(point("a", 130.0, Some(100)));
        stays.features.push(point("b", f64::NAN, Some(50)));
        stays.features.push(point("c", 131.0, None));
        let mut rejected = Layer::new("rejected", GeomKind::Any, vec![]);
        rejected.features.push(point("r", 10.0, Some(900)));
        let s = LayerSummary::of(&stays);
        assert_eq!(s.features, 3);
        assert_eq!(s.bbox_deg, Some([130.0, 42.0, 131.0, 42.0]));
        assert_eq!(s.time_span, Some((50, 100)));
        let both = [s, LayerSummary::of(&rejected)];
        let e = data_extent_deg(&both);
        assert!(e[0] > 129.0 && e[0] < 130.0, "rejected ignored: {e:?}");
        assert_eq!(data_time_span(&both), Some((50, 900)));
        assert_eq!(data_time_span(&[]), None);
    }

    #[test]
    fn extent_defaults_and_pads() {
        assert_eq!(data_extent_deg(&[]), DEFAULT_EXTENT_DEG);
        let mut l = Layer::new("stays", GeomKind::Point, vec![]);
        l.features.push(Feature {
            id: "a".into(),
            geometry: Some(geo::Geometry::Point(geo::Point::new(130.3, 42.236))),
            values: vec![],
            extra: vec![],
        });
        let e = data_extent_deg(&[LayerSummary::of(&l)]);
        assert!(e[0] < 130.3 && e[2] > 130.3 && e[1] < 42.236 && e[3] > 42.236);
    }
}
