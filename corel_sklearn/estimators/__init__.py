"""scikit-learn estimators: thin glue around the kernels and networks."""
