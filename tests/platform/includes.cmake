# tests/platform/includes.cmake - the layering rule that only platform/
# includes operating-system headers, checked on the sources.
#
# Run as `cmake -DROOT=SOURCE_DIR -P includes.cmake`.  Every #include <...>
# in core/, sync/, apps/ and include/ must name a header of standard C11 or
# of a declared dependency (the Debian packages of docs/ARCHITECTURE.md);
# anything else (unistd.h, fcntl.h, sys/..., netdb.h, pthread.h, ...) is
# reported with its file and line, and the test fails.
cmake_minimum_required(VERSION 3.18)
if(NOT ROOT)
  message(FATAL_ERROR "give -DROOT=the source folder")
endif()

# Standard C11, less signal.h: the stop signals of a server are a POSIX
# affair (masks, sigwait) and belong to platform/posix_signal.c.
set(c11 assert complex ctype errno fenv float inttypes iso646 limits locale math
        setjmp stdalign stdarg stdatomic stdbool stddef stdint stdio stdlib
        stdnoreturn string tgmath threads time uchar wchar wctype)
set(deps cjson/cJSON sqlite3 microhttpd curl/curl zlib libpq-fe xlsxwriter)
set(dep_prefixes openssl/)

set(bad "")
set(nfiles 0)
foreach(dir core sync apps include)
  file(GLOB_RECURSE files ${ROOT}/${dir}/*.c ${ROOT}/${dir}/*.h)
  foreach(f ${files})
    math(EXPR nfiles "${nfiles} + 1")
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*<")
    foreach(line ${lines})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*<([^>]*)>.*$" "\\1" h "${line}")
      string(REGEX REPLACE "\\.h$" "" stem "${h}")
      set(ok FALSE)
      if(stem IN_LIST c11 OR stem IN_LIST deps)
        set(ok TRUE)
      endif()
      foreach(p ${dep_prefixes})
        string(FIND "${h}" "${p}" at)
        if(at EQUAL 0)
          set(ok TRUE)
        endif()
      endforeach()
      if(NOT ok)
        file(RELATIVE_PATH rel ${ROOT} ${f})
        list(APPEND bad "${rel}: <${h}>")
      endif()
    endforeach()
  endforeach()
endforeach()

if(nfiles LESS 20)
  message(FATAL_ERROR "only ${nfiles} files found under ${ROOT}: wrong ROOT?")
endif()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "OS headers outside platform/ (move the use into platform/):\n  ${text}")
endif()
message(STATUS "${nfiles} files: no OS header outside platform/")
