#pragma once
/// \file
/// The seed module `production.monitoring`: statistical drift tests, drift detectors, performance
/// monitoring and alerting.
