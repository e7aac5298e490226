// Boost.JSON and Boost.URL compiled into the fuzz build (PRINTMETER_FUZZ), so
// that they carry the same instrumentation as the decoder.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
