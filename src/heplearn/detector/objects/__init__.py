"""Physics objects for the search: leptons, jets and missing transverse momentum."""
