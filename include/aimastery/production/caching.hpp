#pragma once
/// \file
/// The seed module `production.caching`. RedisCache needs hiredis: it is included when the
/// aimastery::redis target is linked (which defines AIMASTERY_HAVE_REDIS).

#include "aimastery/production/caching/cache_backend.hpp"
#include "aimastery/production/caching/content_hash.hpp"
#include "aimastery/production/caching/embedding_cache.hpp"
#include "aimastery/production/caching/lru_cache.hpp"
#include "aimastery/production/caching/prediction_cache.hpp"
#include "aimastery/production/caching/value_codec.hpp"

#if defined(AIMASTERY_HAVE_REDIS)
#include "aimastery/production/caching/redis_backend.hpp"
#include "aimastery/production/caching/redis_cache.hpp"
#endif
