"""e/γ clusters in a sampling calorimeter: geometry, material, showers, cells, clusters, tracks."""
