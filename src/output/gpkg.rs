//! Writing a GeoPackage through GDAL (feature `gdal`).
