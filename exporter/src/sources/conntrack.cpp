#include "sources/conntrack.h"
