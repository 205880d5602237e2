//! Reading vector formats through GDAL (feature `gdal`).
