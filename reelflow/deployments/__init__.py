"""Work pools, deployments and the local stack (`reelflow up`)."""
