# Writes the schema JSON as a C string so the library carries its default
# schema without reading a file at run time.
#   cmake -DIN=default.json -DOUT=schema_default.c -P embed.cmake
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
       "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}" "/* Generated from core/schema/default.json; do not edit. */\n"
     "#include \"schema.h\"\n\nstatic const unsigned char bytes[] = {\n    ${bytes}0x00\n};\n\n"
     "const char *const mq__default_schema_json = (const char *)bytes;\n")
