#pragma once
/// \file
/// The seed module `production.caching`. RedisCache needs hiredis: it is included when the
/// aimastery::redis target is linked (which defines AIMASTERY_HAVE_REDIS).
