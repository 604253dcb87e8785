// Our own JavaScript: kept to a few small enhancements; every page works without it.
