#pragma once
/// \file
/// The seed module `ml.classical`: from-scratch estimators with scikit-learn's contract, and the metrics,
/// model selection and preprocessing around them.

#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/validation.hpp"
