#pragma once
/// \file
/// The seed module `core.probability`: distributions and information theory.
