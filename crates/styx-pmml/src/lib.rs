//! A native PMML evaluator: parse, validate, compile and score PMML 3.x to 4.4 documents.
