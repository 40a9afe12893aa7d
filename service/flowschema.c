/* flowschema.c - under construction */
