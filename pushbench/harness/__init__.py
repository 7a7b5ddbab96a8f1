"""The process harness: start servers, sample their processes, find Redis, describe the machine,
lay out run directories, and the run skeleton every measuring command shares. Imports the core
only.
"""
