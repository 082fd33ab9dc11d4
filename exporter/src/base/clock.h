// The clocks connwatch reads. Unix time is what samples and reloads are stamped with; the boot
// clock (CLOCK_BOOTTIME) is what connection ages are kept on, since wall-clock steps cannot
// move it; the steady clock times the work.
#pragma once

#include <chrono>

namespace connwatch {

double UnixSeconds();
double BootClockSeconds();
double SecondsSince(std::chrono::steady_clock::time_point start);

}  // namespace connwatch
