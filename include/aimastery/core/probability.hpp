#pragma once
/// \file
/// The seed module `core.probability`: distributions and information theory.

#include "aimastery/core/probability/bernoulli.hpp"
#include "aimastery/core/probability/categorical.hpp"
#include "aimastery/core/probability/gaussian.hpp"
#include "aimastery/core/probability/information.hpp"
#include "aimastery/core/special/normal.hpp"
