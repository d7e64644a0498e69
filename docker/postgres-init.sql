-- Temporal's own databases live beside Arrakis's in the compose stack.
CREATE DATABASE temporal;
CREATE DATABASE temporal_visibility;
