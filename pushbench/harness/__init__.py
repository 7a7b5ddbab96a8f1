"""The process harness: start servers, sample their processes, find Redis, describe the machine,
lay out run directories. Imports the core only.
"""
