//! Elle's consistency models and anomalies (elle/consistency_model.clj).
