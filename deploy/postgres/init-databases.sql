-- Runs once, when the postgres container initialises an empty data volume
-- (/docker-entrypoint-initdb.d). Each service owns one database on the server; the services
-- create their tables themselves (migrations at start). The databases belong to POSTGRES_USER,
-- the role the services connect as.
CREATE DATABASE alliance_members;
CREATE DATABASE alliance_procurement;
CREATE DATABASE alliance_notifications;
