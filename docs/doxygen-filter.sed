# Doxygen's INPUT_FILTER for the public headers (docs/Doxyfile.in).  The
# headers' comments are plain C comments, the style of the whole code base:
# each one that is not a section banner ("/* ---- ...") becomes a Doxygen
# comment, so the headers need no markup.  A comment after code on its
# line (a struct field's) documents that code ("/**<"), one on a line of
# its own what follows.  An "@" (NDCG@k) is text, not a Doxygen command.
/\/\* --/b
s|^\([ \t]*[^ \t/].*\)/\*\([^*-]\)|\1/**<\2|
t at
s|^\([ \t]*\)/\*\([^*-]\)|\1/**\2|
:at
s|@|\\@|g
