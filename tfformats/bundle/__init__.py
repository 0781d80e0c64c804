"""TensorBundle (V2 checkpoint) format: index entries, data shards, slices."""
